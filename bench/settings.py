"""Settings of the fault drills' server: the normal settings plus the random-429 knob."""

from bcsync_project.settings import *  # noqa: F403
from bcsync_project.settings import env

GRAPH_SANDBOX_THROTTLE_ERROR_RATE = env.float("GRAPH_SANDBOX_THROTTLE_ERROR_RATE", default=0.0)
