"""Print the README's test command, the line of its first ``bash`` block marked ``# the test suite``.

``.ci/run`` runs exactly this line inside a fresh virtual environment, so CI and the README cannot drift.
Exits 1 with a message naming the README when the line is missing.
"""

from __future__ import annotations

import pathlib
import re
import sys

MARK = "# the test suite"


def test_command(readme: str) -> str:
    """The command on the README's first ``bash`` block line that ends in ``# the test suite``.

    Raises:
        ValueError: there is no ``bash`` block, or no such line in the first one.
    """
    block = re.search(r"^```bash\n(.*?)^```", readme, re.M | re.S)
    if block is None:
        raise ValueError("no ```bash block")
    for line in block.group(1).splitlines():
        command, _, comment = line.partition(" #")
        if f"#{comment}".strip() == MARK and command.strip():
            return command.strip()
    raise ValueError(f"no line marked {MARK!r} in the first ```bash block")


def main(argv: list[str]) -> int:
    path = pathlib.Path(argv[0] if argv else "README.md")
    try:
        print(test_command(path.read_text()))
    except (OSError, ValueError) as err:
        print(f"CI: cannot read the test command from {path}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
