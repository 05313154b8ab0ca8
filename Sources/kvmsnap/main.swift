import KVMSnapCommands

KVMSnap.runMain()
