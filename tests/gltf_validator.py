"""Runs the Khronos glTF validator (npm package gltf-validator) on files; where it is installed is found from
MOTIONKIT_GLTF_VALIDATOR (a folder with node_modules/gltf-validator) or .ci/node in the repository."""
import json
import os
import pathlib
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = """
const validator = require('gltf-validator');
const fs = require('fs');
(async () => {
  const out = [];
  for (const f of process.argv.slice(1)) {
    const r = await validator.validateBytes(new Uint8Array(fs.readFileSync(f)));
    out.push({file: f, errors: r.issues.numErrors, warnings: r.issues.numWarnings,
              messages: r.issues.messages.filter(m => m.severity <= 1).slice(0, 10)});
  }
  console.log(JSON.stringify(out));
})();
"""


def validator_dir() -> pathlib.Path | None:
    for d in (os.environ.get("MOTIONKIT_GLTF_VALIDATOR"), ROOT / ".ci" / "node"):
        if d and (pathlib.Path(d) / "node_modules" / "gltf-validator").is_dir() and shutil.which("node"):
            return pathlib.Path(d)
    return None


def validate(*paths) -> list[dict]:
    d = validator_dir()
    proc = subprocess.run(["node", "-e", SCRIPT, *map(str, paths)], cwd=d, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "NODE_PATH": str(d / "node_modules")})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
