#!/bin/bash
# Regenerates the seed corpora in tests/fuzz/corpus/ from readable text (protoc --encode for the
# protobuf inputs). Run from the repository root. Seeds found by fuzzing (crash reproducers,
# interesting inputs) are added beside these by hand and kept.
set -euo pipefail
C=tests/fuzz/corpus
mkdir -p $C/models_fuzz $C/sse_fuzz $C/router_fuzz $C/config_fuzz $C/locket_fuzz

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
