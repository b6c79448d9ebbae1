"""python -m services.registry"""

import asyncio

from services.registry.app import serve

if __name__ == "__main__":
    asyncio.run(serve())
