"""python -m services.open311"""

import asyncio

from services.open311.app import serve

if __name__ == "__main__":
    asyncio.run(serve())
