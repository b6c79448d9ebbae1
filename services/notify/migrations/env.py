from services.common.migrations_env import run
from services.notify.store import metadata

run(metadata)
