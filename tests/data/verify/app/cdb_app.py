"""A CDB-like service (Flask, as in the team plan's cdb_core) for the verify integration tests.

GET /health answers 200 {"status": "ok"}; after GET /break it answers 503 until GET /fix.
"""

from __future__ import annotations

from flask import Flask, jsonify

app = Flask(__name__)
state = {"healthy": True}


@app.route("/health")
def health():  # type: ignore[no-untyped-def]
    if state["healthy"]:
        return jsonify({"status": "ok", "service": "cdb_core"})
    return jsonify({"status": "degraded", "service": "cdb_core"}), 503


@app.route("/break")
def break_():  # type: ignore[no-untyped-def]
    state["healthy"] = False
    return jsonify({"healthy": False})


@app.route("/fix")
def fix():  # type: ignore[no-untyped-def]
    state["healthy"] = True
    return jsonify({"healthy": True})
