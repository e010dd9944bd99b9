"""The key-by-key merge of a service block, for changes a line merge finds too close to each other."""

from __future__ import annotations

import pytest
import yaml

from cdbctl.scaffold.block_merge import merge_mapping
from cdbctl.scaffold.merge import merge3

pytestmark = pytest.mark.unit

BASE = """\
  app:
    image: app:1
    environment:
      PORT: "8001"
      LOG_LEVEL: info
      REDIS_URL: redis://:${REDIS_PASSWORD:?}@redis/0
    ports:
      - "8001:8001"
    deploy:
      replicas: 1
      resources:
        limits:
          memory: 512M
"""
# The template: REDIS_URL without the required variable, a new key after it, more memory.
THEIRS = BASE.replace(
    "      REDIS_URL: redis://:${REDIS_PASSWORD:?}@redis/0\n",
    "      REDIS_URL: redis://redis/0\n      REDIS_PASSWORD_FILE: /run/secrets/redis\n",
).replace("memory: 512M", "memory: 768M")


def _edit(old: str, new: str, text: str = BASE) -> bytes:
    assert old in text
    return text.replace(old, new).encode()


@pytest.mark.parametrize(
    ("yours", "expected"),
    [
        pytest.param(  # the line merge collides: FEATURE_X goes right before the REDIS_URL line
            _edit("      LOG_LEVEL: info\n", '      LOG_LEVEL: debug  # mine\n      FEATURE_X: "1"\n'),
            THEIRS.replace("LOG_LEVEL: info\n", 'LOG_LEVEL: debug  # mine\n      FEATURE_X: "1"\n'),
            id="adjacent-keys",
        ),
        pytest.param(  # your comment line belongs to the key after it, which the template changed
            _edit("      REDIS_URL:", "      # the cache\n      REDIS_URL:"),
            THEIRS.replace("      REDIS_URL:", "      # the cache\n      REDIS_URL:"),
            id="comment-before-a-changed-key",
        ),
        pytest.param(  # keys you moved keep your order; the template's new key follows the one it follows
            _edit(
                '      PORT: "8001"\n      LOG_LEVEL: info\n      REDIS_URL: redis://:${REDIS_PASSWORD:?}@redis/0\n',
                '      REDIS_URL: redis://:${REDIS_PASSWORD:?}@redis/0\n      LOG_LEVEL: warning\n      PORT: "8001"\n',
            ),
            THEIRS.replace(
                '      PORT: "8001"\n      LOG_LEVEL: info\n      REDIS_URL: redis://redis/0\n'
                "      REDIS_PASSWORD_FILE: /run/secrets/redis\n",
                "      REDIS_URL: redis://redis/0\n      REDIS_PASSWORD_FILE: /run/secrets/redis\n"
                '      LOG_LEVEL: warning\n      PORT: "8001"\n',
            ),
            id="your-order",
        ),
        pytest.param(  # a list you changed is one value; the template did not touch it
            _edit('      - "8001:8001"\n', '      - "8001:8001"\n      - "9001:9001"\n'),
            THEIRS.replace('      - "8001:8001"\n', '      - "8001:8001"\n      - "9001:9001"\n'),
            id="sequence-one-side",
        ),
        pytest.param(  # the same change on both sides is taken once
            _edit(
                "      REDIS_URL: redis://:${REDIS_PASSWORD:?}@redis/0\n",
                "      REDIS_URL: redis://redis/0\n",
            ),
            THEIRS,
            id="same-change",
        ),
    ],
)
def test_changes_to_different_keys_merge(yours: bytes, expected: str) -> None:
    merged = merge_mapping(BASE.encode(), yours, THEIRS.encode())
    assert merged == expected.encode()
    assert yaml.safe_load(merged) == yaml.safe_load(expected)
    assert merge_mapping(BASE.encode(), merged, THEIRS.encode()) == merged  # a rerun changes nothing


@pytest.mark.parametrize(
    "yours",
    [
        pytest.param(
            _edit("redis://:${REDIS_PASSWORD:?}@redis/0", "redis://:hunter2@redis/0"), id="same-key"
        ),
        pytest.param(
            _edit("      REDIS_URL: redis://:${REDIS_PASSWORD:?}@redis/0\n", ""), id="you-deleted-it"
        ),
        pytest.param(_edit("          memory: 512M\n", "          memory: 1G\n"), id="nested-same-key"),
        pytest.param(_edit("    environment:\n", "    environment: &env\n"), id="changed-the-parent-line"),
        pytest.param(
            _edit('      PORT: "8001"\n', '      PORT: "8001"\n     ODD: 1\n'), id="odd-indentation"
        ),
        pytest.param(
            _edit('      PORT: "8001"\n', '      PORT: "8001"\n      PORT: "8002"\n'), id="duplicate-key"
        ),
        pytest.param(
            _edit('      - "8001:8001"\n', '      - "8001:8001"\n      - {a: 1,\n         b: 2}\n'),
            id="not-a-plain-mapping-below-is-one-value",
        ),
    ],
)
def test_what_cannot_be_merged_soundly_is_none(yours: bytes) -> None:
    merged = merge_mapping(BASE.encode(), yours, THEIRS.encode())
    if merged is not None:  # only the last case: its own change is one value the template did not touch
        assert yaml.safe_load(merged)["app"]["ports"] == yaml.safe_load(yours)["app"]["ports"]
        assert yaml.safe_load(merged)["app"]["environment"] == yaml.safe_load(THEIRS)["app"]["environment"]
        return
    assert merged is None


def test_the_line_merge_collides_where_the_key_merge_does_not() -> None:
    """Why the key merge exists: the same edit is a conflict line by line."""
    yours = _edit("      LOG_LEVEL: info\n", '      LOG_LEVEL: debug\n      FEATURE_X: "1"\n')
    assert merge3(BASE.encode(), yours, THEIRS.encode()).conflicts == 1
    assert merge_mapping(BASE.encode(), yours, THEIRS.encode()) is not None
