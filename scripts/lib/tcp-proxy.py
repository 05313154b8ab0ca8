#!/usr/bin/env python3
"""A loopback TCP forwarder for tests: `tcp-proxy.py LISTEN_PORT TARGET_PORT` forwards
127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT until killed. Killing it cuts every connection
at once, as a dropped network link would; starting it again on the same port heals the link
while the server behind it keeps its state (the S3 tests cut moto off mid-send this way)."""
import asyncio
import signal
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main(listen_port, target_port):
    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port, reuse_address=True)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


# A parent's blocked signals are inherited: let SIGTERM end the proxy.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
