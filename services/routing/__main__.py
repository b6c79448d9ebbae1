"""python -m services.routing"""

import asyncio

from services.routing.app import serve

if __name__ == "__main__":
    asyncio.run(serve())
