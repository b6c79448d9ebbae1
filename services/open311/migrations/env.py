from services.common.migrations_env import run
from services.open311.store import metadata

run(metadata)
