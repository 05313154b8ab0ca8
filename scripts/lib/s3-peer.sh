# The S3 server the vault tests run against: moto's server (PyPI `moto[server]`) on a free
# loopback port, with SigV4 verification and IAM policies on (INITIAL_NO_AUTH_ACTION_COUNT: only
# the first requests, which create the users, go unauthenticated).
#
# Source it, then:
#   s3_peer_start   installs moto if missing, starts it, creates two users and a bucket, and
#                   writes KVMSNAP_S3_ENV (exported; default /tmp/kvmsnap-s3-peer/env) with
#                   KVMSNAP_S3_ENDPOINT, KVMSNAP_S3_BUCKET and KVMSNAP_S3_{FULL,APPEND}_{KEY,SECRET}.
#                   The append-only user may only s3:PutObject, s3:GetObject and s3:ListBucket.
#                   moto keeps its state in memory only: a restarted moto is empty (the tests cut
#                   the link with scripts/lib/tcp-proxy.py instead of stopping the server).
#   s3_peer_stop    stops it (pid file) and removes its directory.

S3_PEER_DIR="${KVMSNAP_S3_PEER_DIR:-/tmp/kvmsnap-s3-peer}"
S3_PEER_PYTHON=/usr/bin/python3

s3_peer_log() { echo "s3-peer: $*" >&2; }

s3_peer_install() {
  if "$S3_PEER_PYTHON" -c 'import moto.server, boto3' 2>/dev/null; then return 0; fi
  if ! "$S3_PEER_PYTHON" -m pip --version >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  s3_peer_log "installing: moto[server] (PyPI)"
  "$S3_PEER_PYTHON" -m pip install --quiet --root-user-action=ignore 'moto[server]' 2>/dev/null \
    || "$S3_PEER_PYTHON" -m pip install --quiet --root-user-action=ignore --break-system-packages 'moto[server]'
}

s3_peer_free_port() {
  "$S3_PEER_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

s3_peer_start() {
  s3_peer_stop
  s3_peer_install
  mkdir -p "$S3_PEER_DIR"
  chmod 700 "$S3_PEER_DIR"
  local port
  port="$(s3_peer_free_port)"
  # Six unauthenticated actions: two users, their access keys and their policies.
  INITIAL_NO_AUTH_ACTION_COUNT=6 setsid "$S3_PEER_PYTHON" -m moto.server -H 127.0.0.1 -p "$port" \
    >"$S3_PEER_DIR/moto.log" 2>&1 </dev/null &
  echo $! >"$S3_PEER_DIR/moto.pid"
  # Wait for the port without sending a request (each request would use up an unauthenticated action).
  local i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    if ! kill -0 "$(cat "$S3_PEER_DIR/moto.pid")" 2>/dev/null; then
      s3_peer_log "moto did not start:"; cat "$S3_PEER_DIR/moto.log" >&2; return 1
    fi
    sleep 0.2
  done
  export KVMSNAP_S3_ENV="$S3_PEER_DIR/env"
  "$S3_PEER_PYTHON" - "http://127.0.0.1:$port" "$KVMSNAP_S3_ENV" <<'PY' || { s3_peer_log "setting up moto failed"; cat "$S3_PEER_DIR/moto.log" >&2; return 1; }
import json, os, sys, boto3
endpoint, out = sys.argv[1], sys.argv[2]
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
def user(name, actions):
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
    return key["AccessKeyId"], key["SecretAccessKey"]
full = user("kvmsnap-full", ["s3:*"])
append = user("kvmsnap-append", ["s3:PutObject", "s3:GetObject", "s3:ListBucket"])
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=full[0], aws_secret_access_key=full[1])
s3.create_bucket(Bucket="kvmsnap-tests")
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    f.write(f"KVMSNAP_S3_ENDPOINT={endpoint}\nKVMSNAP_S3_BUCKET=kvmsnap-tests\n")
    f.write(f"KVMSNAP_S3_FULL_KEY={full[0]}\nKVMSNAP_S3_FULL_SECRET={full[1]}\n")
    f.write(f"KVMSNAP_S3_APPEND_KEY={append[0]}\nKVMSNAP_S3_APPEND_SECRET={append[1]}\n")
PY
  s3_peer_log "moto on http://127.0.0.1:$port (pid $(cat "$S3_PEER_DIR/moto.pid")), settings in $KVMSNAP_S3_ENV"
}

s3_peer_stop() {
  local pid
  if [[ -f "$S3_PEER_DIR/moto.pid" ]]; then
    pid="$(cat "$S3_PEER_DIR/moto.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$S3_PEER_DIR"
}
