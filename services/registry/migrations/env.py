from services.common.migrations_env import run
from services.registry.store import metadata

run(metadata)
