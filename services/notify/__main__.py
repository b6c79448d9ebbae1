"""python -m services.notify"""

import asyncio

from services.notify.app import serve

if __name__ == "__main__":
    asyncio.run(serve())
