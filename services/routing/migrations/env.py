from services.common.migrations_env import run
from services.routing.store import metadata

run(metadata)
