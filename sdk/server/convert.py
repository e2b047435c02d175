"""Old name of the wire module: client and server share ``sdk.wire`` now. This alias keeps
``from sdk.server import convert`` working (the same module object) for code written against it."""
import sys

from .. import wire

sys.modules[__name__] = wire
