from services.common.migrations_env import run
from services.registry.store.tables import metadata

run(metadata)
