#!/usr/bin/env python3
"""Chats with the exported demo server as a user's client would: joins, learns its id from the
join announcement, sends a text and a binary message and gets both back as the demo relays
them, then closes cleanly.

    chat.py URL
"""
import asyncio
import sys

import websockets

TIMEOUT = 10


async def chat(url):
    async with websockets.connect(url, open_timeout=TIMEOUT) as ws:
        joined = await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert joined.startswith("* ") and joined.endswith(" joined"), joined
        own_id = int(joined.split(" ")[1])
        await ws.send("hello from the bundle test")
        echo = await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert echo == f"[{own_id}] hello from the bundle test", echo
        await ws.send(b"\x00\x01\xff")
        echo = await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert echo == b"\x00\x01\xff", echo
        print(f"chat: client {own_id} chatted with the exported server")


asyncio.run(chat(sys.argv[1]))
