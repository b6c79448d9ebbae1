"""python -m services.intake"""

import asyncio

from services.intake.app import serve

if __name__ == "__main__":
    asyncio.run(serve())
