"""A TCP proxy on loopback that cuts random connections now and then (a flaky LAN).

python bench/cutting_proxy.py --listen 6001 --target 127.0.0.1:5000 --every 10 --share 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import random


class CuttingProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.cuts = 0

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        link = (client_w, server_w)
        self.links.add(link)
        try:
            await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w))
        finally:
            self.links.discard(link)

    async def cutter(
        self, every: float, share: float, rng: random.Random, cuts_file: str | None
    ) -> None:
        while True:
            await asyncio.sleep(every)
            victims = [link for link in list(self.links) if rng.random() < share]
            for client_w, server_w in victims:
                for w in (client_w, server_w):
                    transport = w.transport
                    if transport is not None:
                        transport.abort()  # an RST, as a pulled cable looks to both ends
            self.cuts += len(victims)
            if cuts_file and victims:
                with open(cuts_file, "w") as f:  # evidence for a test that links were cut
                    f.write(str(self.cuts))


async def serve(
    listen: int,
    target: str,
    every: float,
    share: float,
    rng: random.Random,
    cuts_file: str | None = None,
) -> None:
    host, port = target.rsplit(":", 1)
    proxy = CuttingProxy(host, int(port))
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", listen, backlog=2048)
    async with server:
        await asyncio.gather(server.serve_forever(), proxy.cutter(every, share, rng, cuts_file))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--every", type=float, default=10)
    ap.add_argument("--share", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=None, help="which links are cut (replayable)")
    ap.add_argument("--cuts-file", help="keep the number of links cut so far in this file")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    asyncio.run(serve(args.listen, args.target, args.every, args.share, rng, args.cuts_file))


if __name__ == "__main__":
    main()
