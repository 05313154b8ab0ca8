import KVMSnapCommands

KVMSnap.main()
