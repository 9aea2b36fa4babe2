#!/bin/bash
# Regenerates the seed corpora in tests/fuzz/corpus/ from readable text (protoc --encode for the
# protobuf inputs). Run from the repository root. Seeds found by fuzzing (crash reproducers,
# interesting inputs) are added beside these by hand and kept.
set -euo pipefail
C=tests/fuzz/corpus
mkdir -p $C/models_fuzz $C/sse_fuzz $C/router_fuzz $C/config_fuzz $C/locket_fuzz $C/rows_fuzz

# models_fuzz: one selector byte (the index in models_fuzz.cc's kTargets) + the request.
model() {  # name selector message text
  { printf "\\x$(printf %02x "$2")"; echo "$4" | protoc -I proto --encode="models.$3" \
      $(cd proto && ls models/*.proto); } > "$C/models_fuzz/$1"
}
LRP='process_guid: "pg-1" domain: "cf-apps" root_fs: "preloaded:cflinuxfs4" instances: 3
  log_guid: "lg" memory_mb: 256 disk_mb: 1024
  action { run_action { path: "/bin/sleep" args: "1000" user: "vcap" } }
  metric_tags { key: "source_id" value { static: "app" } }
  routes { routes { key: "cf-router" value: "[{\"hostnames\":[\"a.example.com\"],\"port\":8080}]" } }'
TASK='task_guid: "tg-1" domain: "d" task_definition { root_fs: "docker:///busybox"
  action { run_action { path: "ls" user: "root" } } completion_callback_url: "http://cb/x"
  image_layers { url: "http://l" destination_path: "/l" layer_type: SHARED media_type: TGZ } }'
model upsert_domain 0 UpsertDomainRequest 'domain: "cf-apps" ttl: 60'
model actual_lrps 1 ActualLRPsRequest 'domain: "d" cell_id: "c" process_guid: "pg" index: 1'
model claim 6 ClaimActualLRPRequest 'process_guid: "pg" index: 0 actual_lrp_instance_key { instance_guid: "ig" cell_id: "c" }'
model start 7 StartActualLRPRequest 'actual_lrp_key { process_guid: "pg" index: 0 domain: "d" } actual_lrp_instance_key { instance_guid: "ig" cell_id: "c" } actual_lrp_net_info { address: "10.0.0.1" ports { container_port: 8080 host_port: 61000 } }'
model crash 8 CrashActualLRPRequest 'actual_lrp_key { process_guid: "pg" index: 0 domain: "d" } actual_lrp_instance_key { instance_guid: "ig" cell_id: "c" } error_message: "boom"'
model evacuate_running 13 EvacuateRunningActualLRPRequest 'actual_lrp_key { process_guid: "pg" index: 0 domain: "d" } actual_lrp_instance_key { instance_guid: "ig" cell_id: "c" } actual_lrp_net_info { address: "10.0.0.1" }'
model update_desired 20 UpdateDesiredLRPRequest 'process_guid: "pg-1" update { instances: 5 annotation: "a" }'
model desire_lrp 21 DesireLRPRequest "desired_lrp { $LRP }"
model desire_lrp_absurd 21 DesireLRPRequest "desired_lrp { ${LRP/instances: 3/instances: 50000000} }"
model desire_task 25 DesireTaskRequest "$TASK"
model complete_task 27 CompleteTaskRequest 'task_guid: "tg" cell_id: "c" failed: true failure_reason: "x"'
model events_by_cell 30 EventsByCellId 'cell_id: "cell-1"'
model full_desired_lrp 31 DesireLRPRequest "desired_lrp { $LRP }"
model full_task 32 DesireTaskRequest "$TASK"

# sse_fuzz: type length, id length, type, id, payload.
printf '\x0b\x01desired_lrp0payload' > $C/sse_fuzz/simple
printf '\x00\x00' > $C/sse_fuzz/empty
printf '\x0e\x15actual_lrp_crashedabcdef0123456789-42\x00\xff\x10binary' > $C/sse_fuzz/binary

# router_fuzz: raw HTTP/1.1 bytes.
printf 'POST /v1/ping HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n' > $C/router_fuzz/ping
printf 'POST /v1/actual_lrps/claim HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\nX-Vcap-Request-Id: t\r\n\r\nabcPOST /v1/ping HTTP/1.1\r\nContent-Length: 0\r\n\r\n' > $C/router_fuzz/pipelined
printf 'POST /v1/tasks/list.r3 HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' > $C/router_fuzz/chunked
printf 'GET /v1/ping HTTP/1.1\r\nHost: b\r\n\r\n' > $C/router_fuzz/method_not_allowed
printf 'POST /nope?x=1 HTTP/1.0\r\n\r\n' > $C/router_fuzz/not_found
printf 'POST /v1/events/lrp_instances.r1 HTTP/1.1\r\nHost: b\r\nLast-Event-ID: 7\r\nContent-Length: 0\r\n\r\n' > $C/router_fuzz/stream
printf 'POST /v1/ping HTTP/1.1\r\nContent-Length: 99999999\r\n\r\nx' > $C/router_fuzz/too_large
printf 'POST /v1/ping HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' > $C/router_fuzz/bad_chunk

# config_fuzz: flags, "---", JSON.
printf -- '-listenAddress=127.0.0.1:0\n-logLevel=debug\n---\n{"database_driver":"sqlite3","convergence_workers":20,"converge_repeat_interval":"30s","encryption_keys":{"k":"secret"},"active_key_label":"k"}' > $C/config_fuzz/mixed
printf -- '---\n{"listen_address":"0.0.0.0:8889","auctioneer_address":"http://a:9016","max_task_retries":3,"loggregator":{"loggregator_use_v2_api":true},"unknown":null}' > $C/config_fuzz/json
printf -- '-convergeRepeatInterval=1m30s\n-maxTaskRetries\n5' > $C/config_fuzz/flags
printf -- '---\n{"converge_repeat_interval":"-1h","max_task_retries":"three"}' > $C/config_fuzz/bad_values

# locket_fuzz: (kind, length, request bytes)*; kinds 0 Lock, 1 Release, 2 Fetch, 3 FetchAll,
# 4 advance the clock by `length` seconds, 5 expire.
locket() { echo "$2" | protoc -I proto --encode="models.$1" locket/locket.proto; }
op() {  # kind bytes-file
  printf "\\x$(printf %02x "$1")\\x$(printf %02x "$(stat -c %s "$2")")"; cat "$2"
}
T=$(mktemp -d)
locket LockRequest 'resource { key: "cell-1" owner: "o" value: "{}" type_code: PRESENCE } ttl_in_seconds: 5' > $T/lock
locket ReleaseRequest 'resource { key: "cell-1" owner: "o" }' > $T/release
locket FetchRequest 'key: "cell-1"' > $T/fetch
locket FetchAllRequest 'type_code: PRESENCE' > $T/fetchall
: > $T/empty
{ op 0 $T/lock; op 2 $T/fetch; op 3 $T/fetchall; printf '\x04\x06'; printf '\x05\x00'; op 2 $T/fetch; op 0 $T/lock; op 1 $T/release; } > $C/locket_fuzz/lifecycle
{ op 0 $T/empty; op 1 $T/empty; op 2 $T/empty; op 3 $T/empty; } > $C/locket_fuzz/empty_requests
rm -rf $T

# rows_fuzz: a mode byte, then fields (2-byte little-endian length + bytes); see rows_fuzz.cc.
mkdir -p $C/rows_fuzz
T=$(mktemp -d)
pb() { echo "$2" | protoc -I proto --encode="models.$1" $(cd proto && ls models/*.proto) > "$T/$3"; }
pb DesiredLRPRunInfo 'action { run_action { path: "/bin/sleep" args: "1000" user: "vcap" } }
  start_timeout_ms: 60000 log_source: "APP" metrics_guid: "mg" egress_rules { protocol: "tcp" destinations: "0.0.0.0/0" }
  image_layers { url: "http://l" destination_path: "/l" layer_type: SHARED media_type: TGZ }' run_info
pb VolumePlacement 'driver_names: "nfs"' volume_placement
pb ActualLRPNetInfo 'address: "10.0.0.1" ports { container_port: 8080 host_port: 61000 } instance_address: "10.255.0.2" preferred_address: HOST' net_info
pb TaskDefinition 'root_fs: "docker:///busybox" action { run_action { path: "ls" user: "root" } }
  completion_callback_url: "http://cb/x" memory_mb: 128' task_definition
python3 - "$T" "$C/rows_fuzz" <<'PY'
import struct, sys
t, out = sys.argv[1], sys.argv[2]
def f(b):
    b = b.encode() if isinstance(b, str) else b
    return struct.pack('<H', len(b)) + b
def i(n): return f(struct.pack('<q', n))
def pb(name): return open(f'{t}/{name}', 'rb').read()
def seed(name, mode, *fields):
    open(f'{out}/{name}', 'wb').write(bytes([mode]) + b''.join(fields))
desired = [f('pg-1'), f('cf-apps'), f('lg'), f('annotation'), i(3), i(256), i(1024), i(0),
           f('preloaded:cflinuxfs4'),
           f('{"cf-router":[{"hostnames":["a.example.com"],"port":8080}],"tcp-router":null}'),
           f(pb('volume_placement')), f('epoch-1'), i(7), f(pb('run_info')),
           f('["zone-a","gpu"]'), f('{"source_id":{"static":"app"},"idx":{"dynamic":"INDEX"}}'), i(1)]
seed('desired', 0, *desired)
seed('desired_nulls', 8, *desired)
actual = [f('pg-1'), i(2), i(0), i(0), f('cf-apps'), f('RUNNING'), f('ig-1'), f('cell-1'), f(''),
          i(1700000000000000000), f(pb('net_info')), f('epoch-2'), i(3), i(1), f('crashed'),
          f('[{"hostname":"a.apps.internal"}]'), f('{"source_id":"app","index":"2"}'), i(1), f('z1')]
seed('actual', 1, *actual)
seed('actual_evacuating_nulls', 9, *actual[:3], i(1), *actual[4:])
task = [f('tg-1'), f('d'), i(1700000000000000000), i(1690000000000000000), i(0), i(2), f('cell-1'),
        f('result'), i(0), f(''), f(pb('task_definition')), i(1), f('no room')]
seed('task', 2, *task)
seed('version', 3, f('{"CurrentVersion":1772581987}'))
seed('version_bad', 3, f('{"CurrentVersion":"x"}'))
# Raw stored text: the envelope parser sees it as is.
seed('raw_bad_envelopes', 4 | 0, f('pg'), f('d'), f(''), f(''), i(1), i(1), i(1), i(0), f('r'),
     f('02AAAA'), f('01notbase64'), f('e'), i(0), f('02' + 'A' * 40), f('[]'), f('{}'), i(0))
seed('raw_task_label_only', 4 | 2, f('tg'), f('d'), i(0), i(0), i(0), i(0), f(''), f(''), i(0),
     f(''), f('02BmFjdGl2ZQ=='), i(0), f(''))
PY
rm -rf $T
