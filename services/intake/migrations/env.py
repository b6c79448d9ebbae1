from services.common.migrations_env import run
from services.intake.store import metadata

run(metadata)
