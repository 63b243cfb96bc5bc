"""A Hugging Face Hub on 127.0.0.1 for tests, answering the endpoints
`huggingface_hub` calls: `resolve` downloads (HEAD and GET, with the
commit and ETag headers), and uploads (`repos/create`, `validate-yaml`,
`preupload`, the Git LFS batch API with PUT and verify, and `commit`).
Each commit is a new immutable tree; a branch moves to the newest, so a
repository can change between calls and a commit id pins it.

Files can also be placed directly: `hub.files[path] = (bytes, etag)`."""

import base64
import hashlib
import http.server
import json
import os
import threading
import urllib.parse

import yaml

from tests.conftest import subprocess_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

COMMIT = "0123456789abcdef0123456789abcdef01234567"
# A tag the hub resolves to another commit (a repo that changed).
PINNED_COMMITS = {"v1": "fedcba9876543210fedcba9876543210fedcba98"}


class LocalHub(http.server.ThreadingHTTPServer):
    """The server. `files` maps a resolve path to `(data, etag)`; `repos`
    maps `"org/name"` to `{"branches": {name: commit}, "commits": {commit:
    {path: data}}}`; `lfs` holds uploaded objects by sha256; `gets` lists
    the resolve GETs; `on_put(oid)` (if set) is called on each LFS PUT
    before it is stored; when it returns False the connection is dropped
    and nothing is stored (a test interrupts the uploader there)."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.files, self.gets, self.repos, self.lfs = {}, [], {}, {}
        self.commits_made, self.on_put = [], None
        self.lock = threading.Lock()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def tree(self, repo, revision="main"):
        """`{path: data}` of `repo` at a branch or commit, or None."""
        record = self.repos.get(repo)
        if record is None:
            return None
        commit = record["branches"].get(revision, revision)
        return record["commits"].get(commit)


class HubHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self._resolve(body=False)

    def do_GET(self):
        self._resolve(body=True)

    def do_POST(self):
        path = urllib.parse.urlparse(self.path).path
        data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if path == "/api/repos/create":
            return self._create_repo(json.loads(data))
        if path == "/api/validate-yaml":
            return self._validate_yaml(json.loads(data))
        if path.endswith("/info/lfs/objects/batch"):
            return self._lfs_batch(json.loads(data))
        if path.startswith("/lfs-verify/"):
            oid = path.rsplit("/", 1)[1]
            return self._json(200 if oid in self.server.lfs else 404, {})
        if path.startswith("/api/models/") and "/preupload/" in path:
            return self._preupload(json.loads(data))
        if path.startswith("/api/models/") and "/commit/" in path:
            repo, revision = path[len("/api/models/") :].split("/commit/")
            return self._commit(repo, urllib.parse.unquote(revision), data)
        self._json(404, {"error": f"no endpoint {path}"})

    def do_PUT(self):
        path = urllib.parse.urlparse(self.path).path
        data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        oid = path.rsplit("/", 1)[1]
        if self.server.on_put is not None and self.server.on_put(oid) is False:
            self.close_connection = True  # the upload broke off: nothing stored
            return
        if hashlib.sha256(data).hexdigest() != oid:
            return self._json(400, {"error": "the object does not match its oid"})
        self.server.lfs[oid] = data
        self._json(200, {})

    # Downloads.

    def _resolve(self, body):
        path = urllib.parse.urlparse(self.path).path
        found = self._find(path)
        if found is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data, etag, commit = found
        self.send_response(200)
        self.send_header("X-Repo-Commit", commit)
        self.send_header("ETag", f'"{etag}"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.server.gets.append(path)
            self.wfile.write(data)

    def _find(self, path):
        """`(data, etag, commit)` of a resolve path, or None."""
        if path in self.server.files:
            data, etag = self.server.files[path]
            revision = path.split("/resolve/", 1)[-1].split("/", 1)[0]
            return data, etag, PINNED_COMMITS.get(revision, COMMIT)
        if "/resolve/" not in path:
            return None
        repo, rest = path.lstrip("/").split("/resolve/", 1)
        revision, _, filename = rest.partition("/")
        record = self.server.repos.get(repo)
        if record is None:
            return None
        commit = record["branches"].get(revision, revision)
        tree = record["commits"].get(commit)
        if tree is None or filename not in tree:
            return None
        return tree[filename], hashlib.sha256(tree[filename]).hexdigest(), commit

    # Uploads.

    def _create_repo(self, payload):
        repo = f"{payload['organization']}/{payload['name']}"
        url = f"{self.server.endpoint}/{repo}"
        with self.server.lock:
            if repo in self.server.repos:  # the Hub names the repo in a 409 too
                error = "You already created this model repo"
                return self._json(409, {"error": error, "url": url})
            self.server.repos[repo] = {"branches": {}, "commits": {}}
        self._json(200, {"url": url})

    def _validate_yaml(self, payload):
        content = payload["content"]
        if not content.startswith("---\n"):
            return self._json(200, {"errors": [], "warnings": [{"message": "empty"}]})
        try:
            yaml.safe_load(content.split("---\n", 2)[1])
        except yaml.YAMLError as error:
            return self._json(400, {"errors": [{"message": str(error)}]})
        self._json(200, {"errors": [], "warnings": []})

    def _preupload(self, payload):
        files = [
            {
                "path": f["path"],
                "uploadMode": "lfs"
                if f["path"].endswith(".safetensors")
                else "regular",
                "shouldIgnore": False,
            }
            for f in payload["files"]
        ]
        self._json(200, {"files": files})

    def _lfs_batch(self, payload):
        objects = []
        for item in payload["objects"]:
            entry = {"oid": item["oid"], "size": item["size"]}
            if item["oid"] not in self.server.lfs:
                entry["actions"] = {
                    "upload": {"href": f"{self.server.endpoint}/lfs/{item['oid']}"},
                    "verify": {
                        "href": f"{self.server.endpoint}/lfs-verify/{item['oid']}"
                    },
                }
            objects.append(entry)
        self._json(200, {"transfer": "basic", "objects": objects})

    def _commit(self, repo, revision, data):
        lines = [json.loads(line) for line in data.decode().splitlines() if line]
        with self.server.lock:
            record = self.server.repos.get(repo)
            if record is None:
                return self._json(404, {"error": "Repository not found"})
            parent = record["branches"].get(revision)
            tree = dict(record["commits"].get(parent, {}))
            for line in lines[1:]:
                value = line["value"]
                if line["key"] == "file":
                    tree[value["path"]] = base64.b64decode(value["content"])
                elif line["key"] == "lfsFile":
                    if value["oid"] not in self.server.lfs:
                        return self._json(400, {"error": "LFS object not uploaded"})
                    tree[value["path"]] = self.server.lfs[value["oid"]]
            digest = hashlib.sha1(repr((parent, sorted(tree.items()))).encode())
            commit = digest.hexdigest()
            record["commits"][commit] = tree
            record["branches"][revision] = commit
            self.server.commits_made.append((repo, commit))
        self._json(
            200,
            {
                "commitUrl": f"{self.server.endpoint}/{repo}/commit/{commit}",
                "commitOid": commit,
            },
        )

    def _json(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def hub_env(hub, hf_home, **extra):
    """The environment of a child process that talks to `hub`: its
    endpoint, its own Hub cache in `hf_home`, no telemetry, Git LFS rather
    than Xet, online, and this checkout importable; plus `extra`."""
    env = subprocess_env(
        HF_ENDPOINT=hub.endpoint,
        HF_HOME=str(hf_home),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_XET="1",
        PYTHONPATH=ROOT,
        **extra,
    )
    env.pop("HF_HUB_OFFLINE", None)
    return env


def start_hub():
    """A running `LocalHub` (call `stop_hub` after)."""
    server = LocalHub()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop_hub(server):
    server.shutdown()
    server.server_close()


def _upload_mode(path):
    """The Hub stores weights in Git LFS and small text files in git."""
    return "lfs" if path.endswith(".safetensors") else "regular"
