# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_imbed_global_optspecs
    string join \n q/quiet v/verbose ort-lib= h/help V/version
end

function __fish_imbed_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_imbed_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_imbed_using_subcommand
    set -l cmd (__fish_imbed_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c imbed -n "__fish_imbed_needs_command" -l ort-lib -d 'ONNX Runtime shared library (libonnxruntime.so) to load' -r -F
complete -c imbed -n "__fish_imbed_needs_command" -s q -l quiet -d 'Print only errors and the final result'
complete -c imbed -n "__fish_imbed_needs_command" -s v -l verbose -d 'Log more detail (-v info, -vv debug); RUST_LOG overrides'
complete -c imbed -n "__fish_imbed_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imbed -n "__fish_imbed_needs_command" -s V -l version -d 'Print version'
complete -c imbed -n "__fish_imbed_needs_command" -f -a "index" -d 'Embed every image of folders and manifests into the store'
complete -c imbed -n "__fish_imbed_needs_command" -f -a "resume" -d 'Finish an interrupted run; everything else comes from the checkpoint'
complete -c imbed -n "__fish_imbed_needs_command" -f -a "retry-failed" -d 'Process failed items again (all, or those of some error classes)'
complete -c imbed -n "__fish_imbed_needs_command" -f -a "stats" -d 'Show a checkpoint\'s progress, errors, rate and ETA; safe beside a running index'
complete -c imbed -n "__fish_imbed_needs_command" -f -a "search" -d 'Embed query images and print the nearest points of the store'
complete -c imbed -n "__fish_imbed_needs_command" -f -a "embed" -d 'Embed images and print their vectors as JSON lines'
complete -c imbed -n "__fish_imbed_needs_command" -f -a "doctor" -d 'Check the ONNX Runtime library, the model and the store'
complete -c imbed -n "__fish_imbed_needs_command" -f -a "push" -d 'Copy a collection of the embedded store into a Qdrant server collection'
complete -c imbed -n "__fish_imbed_needs_command" -f -a "verify" -d 'Compare a checkpoint with its index item by item: missing points, points with another key, points no checkpoint knows; exit 1 when they differ'
complete -c imbed -n "__fish_imbed_needs_command" -f -a "export" -d 'Write a collection\'s points to files: JSON lines, one parquet table, or clip-retrieval\'s .npy embeddings and parquet metadata'
complete -c imbed -n "__fish_imbed_needs_command" -f -a "import" -d 'Read an export (or clip-retrieval\'s output) into a collection; point IDs are kept'
complete -c imbed -n "__fish_imbed_needs_command" -f -a "dupes" -d 'Find groups of exact, perceptual and semantic near copies in a collection'
complete -c imbed -n "__fish_imbed_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c imbed -n "__fish_imbed_using_subcommand index" -l manifest -d 'JSONL or CSV manifest with a `path` (or `url`, `file`) column, an optional `id`, and payload fields; a path may be an http(s) URL (presigned too) or an s3://, gs:// or az:// URI, and the manifest itself may be a remote object' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand index" -l s3-endpoint -d 'Endpoint of an S3-compatible store (MinIO, SeaweedFS, Ceph, R2) [default: AWS_ENDPOINT_URL, or AWS]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l gcs-endpoint -d 'Base URL of Google Cloud Storage\'s API, for an emulator such as fake-gcs-server [default: STORAGE_EMULATOR_HOST, or Google]; without GOOGLE_* credentials it is read unsigned' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l azure-endpoint -d 'Blob service URL of an Azure storage account (Azurite: http://127.0.0.1:10000/devstoreaccount1) [default: AZURITE_BLOB_STORAGE_URL with AZURE_STORAGE_USE_EMULATOR=true, or Azure]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l ignore-query-param -d 'Leave this query parameter (a CDN\'s `token`, say) out of item keys and payloads, as the signatures of S3, GCS, Azure and CloudFront are; repeatable. Messages show no query at all' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -s m -l model -d 'Model folder (model.onnx + preprocessor_config.json) or a bare .onnx file' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand index" -l preprocess -d 'Preprocessing preset for a bare .onnx file: clip, siglip or imagenet; overrides preprocessor_config.json' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l model-output -d 'Model output holding the embedding [default: image_embeds, or the only 2-D output]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l device -d 'Execution device: cpu, cuda or cuda:N' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l intra-threads -d 'ONNX Runtime intra-op threads [default: every core]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l text-model -d 'Text model folder: model.onnx and tokenizer.json, with tokenizer_config.json, special_tokens_map.json and config.json where present (as Qdrant/clip-ViT-B-32-text). `index` records it with the collection, so search finds it there' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand index" -l text-output -d 'Text model output holding the embedding [default: the one config.json\'s model_type names, pooler_output for SigLIP, else text_embeds]; it is L2-normalised' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l max-pixels -d 'Images with more pixels fail as too_large, from their header, before decoding (100M = 100 MP)' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l max-file-size -d 'Files larger than this many MiB fail as too_large without being read' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l background -d 'Colour that transparent pixels are composited over: white, black or #RRGGBB' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l store -d 'Embedded Qdrant Edge store folder' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand index" -l collection -d 'Collection name inside the store or on the server' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l qdrant -d 'Write to (or search) a Qdrant server or cluster at this gRPC URL instead of the embedded store, such as http://localhost:6334 or https://host:6334' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l vector-name -d 'Named vector to write and search, for collections that hold several vectors' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l qdrant-api-key -d 'API key of the server, sent as the `api-key` header; also read from QDRANT_API_KEY. Never printed, never stored' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l qdrant-connect-timeout -d 'Seconds to wait for a connection to the server [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l qdrant-timeout -d 'Seconds to wait for each request\'s answer [default: 60]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l qdrant-max-attempts -d 'Tries of one request, the first included, when it fails for a reason that may pass (unavailable, time-out, overloaded, connection lost), with exponential backoff and jitter [default: 6]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l max-retries -d 'Retries after the first try: the old spelling of --qdrant-max-attempts, which counts one more and wins when both are given' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l upsert-batch -d 'Points per upsert request (requests are also kept under the server\'s 32 MB limit) [default: 128]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l upsert-parallel -d 'Upsert requests in flight at once [default: 4]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l collection-shards -d 'Shards of a collection imbed creates (Qdrant\'s shards; --shard I/N splits the corpus)' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l collection-replicas -d 'Replication factor of a collection imbed creates' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l shard -d 'Take only shard I of N (0-based), split by a hash of each item\'s key' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l shard-count -d 'Number of shards, with JOB_COMPLETION_INDEX (a Kubernetes Job\'s completions)' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -s b -l batch-size -d 'Images per inference batch (a model with a static batch size imposes its own)' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l checkpoint -d 'Checkpoint file recording every item\'s state' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand index" -l max-attempts -d 'Tries of an item that fails for a reason that may pass (a sink write, a download), the first included, before the item fails [default: 3]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l max-failures -d 'Stop early (exit 1) once more than N items have failed' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l max-failure-rate -d 'Stop early (exit 1) once more than this fraction of items failed (checked after 100)' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l decode-threads -d 'Decoding threads [default: every core]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l decode-memory -d 'MiB of decoded pixels the decoding threads may hold at once; large images wait their turn [default: 1024]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l min-free-space -d 'MiB to keep free on the store\'s disk; the run stops cleanly (exit 2, resumable) below it [default: 128]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l log-interval -d 'Seconds between plain progress lines when stderr is not a terminal [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l debug-embed-log -d 'Append one line per model call (its batch\'s keys) to FILE: how the tests count embeddings' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand index" -l fetch-concurrency -d 'Downloads in flight at once [default: 32]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l fetch-memory -d 'MiB of downloaded images held at once until decoded; large objects wait their turn [default: 512]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l fetch-connect-timeout -d 'Seconds to wait for a connection to a server of images [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l fetch-stall-timeout -d 'Seconds without a byte (before or during a body) after which a download is tried again [default: 30]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l fetch-object-timeout -d 'Seconds one try of a download may take from request to last byte, however steady [default: 300]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l fetch-host-failure-limit -d 'Tries in a row to one host that time out or cannot connect before its other items fail at once as host_down (retry-failed --class host_down takes them later) [default: 5]' -r
complete -c imbed -n "__fish_imbed_using_subcommand index" -l ort-lib -d 'ONNX Runtime shared library (libonnxruntime.so) to load' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand index" -l no-sign -d 'Read public buckets without signing requests (no credentials needed)'
complete -c imbed -n "__fish_imbed_using_subcommand index" -l payload-gps -d 'Put the photo\'s EXIF GPS position in the payload as `gps` (a geo point for `--filter gps~LAT,LON,KM`); without it, the position is never stored'
complete -c imbed -n "__fish_imbed_using_subcommand index" -l strict-manifest -d 'Refuse the run (exit 2) when a manifest line is bad, instead of failing that line alone'
complete -c imbed -n "__fish_imbed_using_subcommand index" -l hidden -d 'Include hidden files and folders (names starting with a dot)'
complete -c imbed -n "__fish_imbed_using_subcommand index" -s L -l follow-links -d 'Follow symbolic links while walking'
complete -c imbed -n "__fish_imbed_using_subcommand index" -l no-normalize -d 'Store vectors as the model gives them, without L2 normalisation'
complete -c imbed -n "__fish_imbed_using_subcommand index" -l full-decode -d 'Decode JPEGs at full size, not at the reduced DCT scale (1/2, 1/4, 1/8) that still leaves twice the model\'s input size; slower, and embeddings differ by about 1e-3 in cosine'
complete -c imbed -n "__fish_imbed_using_subcommand index" -l collection-on-disk -d 'Keep vectors and payloads on disk in a collection imbed creates'
complete -c imbed -n "__fish_imbed_using_subcommand index" -l bulk -d 'Bulk load: build the HNSW index only at the end. imbed sets m=0 on a collection it created, and restores m=16 when the run (or its resume) finishes'
complete -c imbed -n "__fish_imbed_using_subcommand index" -l verify-content -d 'Tell changed files by a hash of their content, not only by size and modification time'
complete -c imbed -n "__fish_imbed_using_subcommand index" -l delete-missing -d 'Delete the points of items whose files are gone, once the walk has finished'
complete -c imbed -n "__fish_imbed_using_subcommand index" -l skip-duplicates -d 'Record an item whose bytes equal an item already done as a `duplicate` of it, with no decode and no model call'
complete -c imbed -n "__fish_imbed_using_subcommand index" -l refresh-payload -d 'Write the payloads of done, unchanged items again from their files, keeping their vectors: no model call'
complete -c imbed -n "__fish_imbed_using_subcommand index" -l reindex -d 'Embed every item again, into the same collection, even with a changed model'
complete -c imbed -n "__fish_imbed_using_subcommand index" -l no-repair -d 'Refuse the run (exit 2) when the index is not the one the checkpoint wrote (lost, dropped or replaced), instead of sending its done items again'
complete -c imbed -n "__fish_imbed_using_subcommand index" -l json -d 'Print the final summary as one JSON object on stdout'
complete -c imbed -n "__fish_imbed_using_subcommand index" -s q -l quiet -d 'Print only errors and the final result'
complete -c imbed -n "__fish_imbed_using_subcommand index" -s v -l verbose -d 'Log more detail (-v info, -vv debug); RUST_LOG overrides'
complete -c imbed -n "__fish_imbed_using_subcommand index" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imbed -n "__fish_imbed_using_subcommand index" -s V -l version -d 'Print version'
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l checkpoint -d 'Checkpoint file recording every item\'s state' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l max-attempts -d 'Tries of an item that fails for a reason that may pass (a sink write, a download), the first included, before the item fails [default: 3]' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l max-failures -d 'Stop early (exit 1) once more than N items have failed' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l max-failure-rate -d 'Stop early (exit 1) once more than this fraction of items failed (checked after 100)' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l decode-threads -d 'Decoding threads [default: every core]' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l decode-memory -d 'MiB of decoded pixels the decoding threads may hold at once; large images wait their turn [default: 1024]' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l min-free-space -d 'MiB to keep free on the store\'s disk; the run stops cleanly (exit 2, resumable) below it [default: 128]' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l log-interval -d 'Seconds between plain progress lines when stderr is not a terminal [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l debug-embed-log -d 'Append one line per model call (its batch\'s keys) to FILE: how the tests count embeddings' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l fetch-concurrency -d 'Downloads in flight at once [default: 32]' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l fetch-memory -d 'MiB of downloaded images held at once until decoded; large objects wait their turn [default: 512]' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l fetch-connect-timeout -d 'Seconds to wait for a connection to a server of images [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l fetch-stall-timeout -d 'Seconds without a byte (before or during a body) after which a download is tried again [default: 30]' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l fetch-object-timeout -d 'Seconds one try of a download may take from request to last byte, however steady [default: 300]' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l fetch-host-failure-limit -d 'Tries in a row to one host that time out or cannot connect before its other items fail at once as host_down (retry-failed --class host_down takes them later) [default: 5]' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l qdrant-api-key -d 'API key of the server, sent as the `api-key` header; also read from QDRANT_API_KEY. Never printed, never stored' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l qdrant-connect-timeout -d 'Seconds to wait for a connection to the server [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l qdrant-timeout -d 'Seconds to wait for each request\'s answer [default: 60]' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l qdrant-max-attempts -d 'Tries of one request, the first included, when it fails for a reason that may pass (unavailable, time-out, overloaded, connection lost), with exponential backoff and jitter [default: 6]' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l max-retries -d 'Retries after the first try: the old spelling of --qdrant-max-attempts, which counts one more and wins when both are given' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l upsert-batch -d 'Points per upsert request (requests are also kept under the server\'s 32 MB limit) [default: 128]' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l upsert-parallel -d 'Upsert requests in flight at once [default: 4]' -r
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l ort-lib -d 'ONNX Runtime shared library (libonnxruntime.so) to load' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l no-repair -d 'Refuse the run (exit 2) when the index is not the one the checkpoint wrote (lost, dropped or replaced), instead of sending its done items again'
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l json -d 'Print the final summary as one JSON object on stdout'
complete -c imbed -n "__fish_imbed_using_subcommand resume" -l force -d 'Resume even though model.onnx or the preprocessing changed since the run started'
complete -c imbed -n "__fish_imbed_using_subcommand resume" -s q -l quiet -d 'Print only errors and the final result'
complete -c imbed -n "__fish_imbed_using_subcommand resume" -s v -l verbose -d 'Log more detail (-v info, -vv debug); RUST_LOG overrides'
complete -c imbed -n "__fish_imbed_using_subcommand resume" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imbed -n "__fish_imbed_using_subcommand resume" -s V -l version -d 'Print version'
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l checkpoint -d 'Checkpoint file recording every item\'s state' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l max-attempts -d 'Tries of an item that fails for a reason that may pass (a sink write, a download), the first included, before the item fails [default: 3]' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l max-failures -d 'Stop early (exit 1) once more than N items have failed' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l max-failure-rate -d 'Stop early (exit 1) once more than this fraction of items failed (checked after 100)' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l decode-threads -d 'Decoding threads [default: every core]' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l decode-memory -d 'MiB of decoded pixels the decoding threads may hold at once; large images wait their turn [default: 1024]' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l min-free-space -d 'MiB to keep free on the store\'s disk; the run stops cleanly (exit 2, resumable) below it [default: 128]' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l log-interval -d 'Seconds between plain progress lines when stderr is not a terminal [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l debug-embed-log -d 'Append one line per model call (its batch\'s keys) to FILE: how the tests count embeddings' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l fetch-concurrency -d 'Downloads in flight at once [default: 32]' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l fetch-memory -d 'MiB of downloaded images held at once until decoded; large objects wait their turn [default: 512]' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l fetch-connect-timeout -d 'Seconds to wait for a connection to a server of images [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l fetch-stall-timeout -d 'Seconds without a byte (before or during a body) after which a download is tried again [default: 30]' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l fetch-object-timeout -d 'Seconds one try of a download may take from request to last byte, however steady [default: 300]' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l fetch-host-failure-limit -d 'Tries in a row to one host that time out or cannot connect before its other items fail at once as host_down (retry-failed --class host_down takes them later) [default: 5]' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l qdrant-api-key -d 'API key of the server, sent as the `api-key` header; also read from QDRANT_API_KEY. Never printed, never stored' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l qdrant-connect-timeout -d 'Seconds to wait for a connection to the server [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l qdrant-timeout -d 'Seconds to wait for each request\'s answer [default: 60]' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l qdrant-max-attempts -d 'Tries of one request, the first included, when it fails for a reason that may pass (unavailable, time-out, overloaded, connection lost), with exponential backoff and jitter [default: 6]' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l max-retries -d 'Retries after the first try: the old spelling of --qdrant-max-attempts, which counts one more and wins when both are given' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l upsert-batch -d 'Points per upsert request (requests are also kept under the server\'s 32 MB limit) [default: 128]' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l upsert-parallel -d 'Upsert requests in flight at once [default: 4]' -r
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l class -d 'Retry only items that failed with this error class (repeatable, or comma-separated)' -r -f -a "not_found\t''
permission\t''
io\t''
empty\t''
unsupported\t''
corrupt\t''
truncated\t''
too_large\t''
manifest\t''
walk\t''
model\t''
sink\t''
denied\t''
remote\t''
timeout\t''
network\t''
host_down\t''"
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l ort-lib -d 'ONNX Runtime shared library (libonnxruntime.so) to load' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l no-repair -d 'Refuse the run (exit 2) when the index is not the one the checkpoint wrote (lost, dropped or replaced), instead of sending its done items again'
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l json -d 'Print the final summary as one JSON object on stdout'
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -l force -d 'Retry even though model.onnx or the preprocessing changed since the run started'
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -s q -l quiet -d 'Print only errors and the final result'
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -s v -l verbose -d 'Log more detail (-v info, -vv debug); RUST_LOG overrides'
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imbed -n "__fish_imbed_using_subcommand retry-failed" -s V -l version -d 'Print version'
complete -c imbed -n "__fish_imbed_using_subcommand stats" -l checkpoint -d 'Checkpoint file [default: imbed.checkpoint]' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand stats" -l qdrant-api-key -d 'API key of the server, sent as the `api-key` header; also read from QDRANT_API_KEY. Never printed, never stored' -r
complete -c imbed -n "__fish_imbed_using_subcommand stats" -l qdrant-connect-timeout -d 'Seconds to wait for a connection to the server [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand stats" -l qdrant-timeout -d 'Seconds to wait for each request\'s answer [default: 60]' -r
complete -c imbed -n "__fish_imbed_using_subcommand stats" -l qdrant-max-attempts -d 'Tries of one request, the first included, when it fails for a reason that may pass (unavailable, time-out, overloaded, connection lost), with exponential backoff and jitter [default: 6]' -r
complete -c imbed -n "__fish_imbed_using_subcommand stats" -l max-retries -d 'Retries after the first try: the old spelling of --qdrant-max-attempts, which counts one more and wins when both are given' -r
complete -c imbed -n "__fish_imbed_using_subcommand stats" -l ort-lib -d 'ONNX Runtime shared library (libonnxruntime.so) to load' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand stats" -l json -d 'Print one JSON object on stdout'
complete -c imbed -n "__fish_imbed_using_subcommand stats" -s q -l quiet -d 'Print only errors and the final result'
complete -c imbed -n "__fish_imbed_using_subcommand stats" -s v -l verbose -d 'Log more detail (-v info, -vv debug); RUST_LOG overrides'
complete -c imbed -n "__fish_imbed_using_subcommand stats" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imbed -n "__fish_imbed_using_subcommand stats" -s V -l version -d 'Print version'
complete -c imbed -n "__fish_imbed_using_subcommand search" -l text -d 'A text to search for, as [WEIGHT:]TEXT. --text, --image, --not and --not-image together make one query: the weighted sum of their normalised vectors, normalised' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l image -d 'A query image to add to the combined query, as [WEIGHT:]IMAGE' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l not -d 'A text to subtract from the combined query, as [WEIGHT:]TEXT' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l not-image -d 'An image to subtract from the combined query, as [WEIGHT:]IMAGE' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l filter -d 'Only points whose payload passes: FIELD=VALUE, FIELD>=NUMBER or FIELD<=NUMBER (or a date), FIELD~LAT,LON,KM, or !FIELD (absent); repeated, all must pass (format=jpeg, width>=1024, !dup_of)' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l min-score -d 'Drop hits scoring below this cosine similarity' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -s k -l top -d 'Number of results' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -s m -l model -d 'Model folder (model.onnx + preprocessor_config.json) or a bare .onnx file' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand search" -l preprocess -d 'Preprocessing preset for a bare .onnx file: clip, siglip or imagenet; overrides preprocessor_config.json' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l model-output -d 'Model output holding the embedding [default: image_embeds, or the only 2-D output]' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l device -d 'Execution device: cpu, cuda or cuda:N' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l intra-threads -d 'ONNX Runtime intra-op threads [default: every core]' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l text-model -d 'Text model folder: model.onnx and tokenizer.json, with tokenizer_config.json, special_tokens_map.json and config.json where present (as Qdrant/clip-ViT-B-32-text). `index` records it with the collection, so search finds it there' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand search" -l text-output -d 'Text model output holding the embedding [default: the one config.json\'s model_type names, pooler_output for SigLIP, else text_embeds]; it is L2-normalised' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l max-pixels -d 'Images with more pixels fail as too_large, from their header, before decoding (100M = 100 MP)' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l max-file-size -d 'Files larger than this many MiB fail as too_large without being read' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l background -d 'Colour that transparent pixels are composited over: white, black or #RRGGBB' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l store -d 'Embedded Qdrant Edge store folder' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand search" -l collection -d 'Collection name inside the store or on the server' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l qdrant -d 'Write to (or search) a Qdrant server or cluster at this gRPC URL instead of the embedded store, such as http://localhost:6334 or https://host:6334' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l vector-name -d 'Named vector to write and search, for collections that hold several vectors' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l qdrant-api-key -d 'API key of the server, sent as the `api-key` header; also read from QDRANT_API_KEY. Never printed, never stored' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l qdrant-connect-timeout -d 'Seconds to wait for a connection to the server [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l qdrant-timeout -d 'Seconds to wait for each request\'s answer [default: 60]' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l qdrant-max-attempts -d 'Tries of one request, the first included, when it fails for a reason that may pass (unavailable, time-out, overloaded, connection lost), with exponential backoff and jitter [default: 6]' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l max-retries -d 'Retries after the first try: the old spelling of --qdrant-max-attempts, which counts one more and wins when both are given' -r
complete -c imbed -n "__fish_imbed_using_subcommand search" -l ort-lib -d 'ONNX Runtime shared library (libonnxruntime.so) to load' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand search" -l no-normalize -d 'Store vectors as the model gives them, without L2 normalisation'
complete -c imbed -n "__fish_imbed_using_subcommand search" -l full-decode -d 'Decode JPEGs at full size, not at the reduced DCT scale (1/2, 1/4, 1/8) that still leaves twice the model\'s input size; slower, and embeddings differ by about 1e-3 in cosine'
complete -c imbed -n "__fish_imbed_using_subcommand search" -l json -d 'Print results as one JSON object on stdout'
complete -c imbed -n "__fish_imbed_using_subcommand search" -s q -l quiet -d 'Print only errors and the final result'
complete -c imbed -n "__fish_imbed_using_subcommand search" -s v -l verbose -d 'Log more detail (-v info, -vv debug); RUST_LOG overrides'
complete -c imbed -n "__fish_imbed_using_subcommand search" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imbed -n "__fish_imbed_using_subcommand search" -s V -l version -d 'Print version'
complete -c imbed -n "__fish_imbed_using_subcommand embed" -l text -d 'Texts to embed with the text model, one JSON line each' -r
complete -c imbed -n "__fish_imbed_using_subcommand embed" -s m -l model -d 'Model folder (model.onnx + preprocessor_config.json) or a bare .onnx file' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand embed" -l preprocess -d 'Preprocessing preset for a bare .onnx file: clip, siglip or imagenet; overrides preprocessor_config.json' -r
complete -c imbed -n "__fish_imbed_using_subcommand embed" -l model-output -d 'Model output holding the embedding [default: image_embeds, or the only 2-D output]' -r
complete -c imbed -n "__fish_imbed_using_subcommand embed" -l device -d 'Execution device: cpu, cuda or cuda:N' -r
complete -c imbed -n "__fish_imbed_using_subcommand embed" -l intra-threads -d 'ONNX Runtime intra-op threads [default: every core]' -r
complete -c imbed -n "__fish_imbed_using_subcommand embed" -l text-model -d 'Text model folder: model.onnx and tokenizer.json, with tokenizer_config.json, special_tokens_map.json and config.json where present (as Qdrant/clip-ViT-B-32-text). `index` records it with the collection, so search finds it there' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand embed" -l text-output -d 'Text model output holding the embedding [default: the one config.json\'s model_type names, pooler_output for SigLIP, else text_embeds]; it is L2-normalised' -r
complete -c imbed -n "__fish_imbed_using_subcommand embed" -l max-pixels -d 'Images with more pixels fail as too_large, from their header, before decoding (100M = 100 MP)' -r
complete -c imbed -n "__fish_imbed_using_subcommand embed" -l max-file-size -d 'Files larger than this many MiB fail as too_large without being read' -r
complete -c imbed -n "__fish_imbed_using_subcommand embed" -l background -d 'Colour that transparent pixels are composited over: white, black or #RRGGBB' -r
complete -c imbed -n "__fish_imbed_using_subcommand embed" -l ort-lib -d 'ONNX Runtime shared library (libonnxruntime.so) to load' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand embed" -l no-normalize -d 'Store vectors as the model gives them, without L2 normalisation'
complete -c imbed -n "__fish_imbed_using_subcommand embed" -l full-decode -d 'Decode JPEGs at full size, not at the reduced DCT scale (1/2, 1/4, 1/8) that still leaves twice the model\'s input size; slower, and embeddings differ by about 1e-3 in cosine'
complete -c imbed -n "__fish_imbed_using_subcommand embed" -s q -l quiet -d 'Print only errors and the final result'
complete -c imbed -n "__fish_imbed_using_subcommand embed" -s v -l verbose -d 'Log more detail (-v info, -vv debug); RUST_LOG overrides'
complete -c imbed -n "__fish_imbed_using_subcommand embed" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imbed -n "__fish_imbed_using_subcommand embed" -s V -l version -d 'Print version'
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -s m -l model -d 'Model folder (model.onnx + preprocessor_config.json) or a bare .onnx file' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l preprocess -d 'Preprocessing preset for a bare .onnx file: clip, siglip or imagenet; overrides preprocessor_config.json' -r
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l model-output -d 'Model output holding the embedding [default: image_embeds, or the only 2-D output]' -r
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l device -d 'Execution device: cpu, cuda or cuda:N' -r
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l intra-threads -d 'ONNX Runtime intra-op threads [default: every core]' -r
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l checkpoint -d 'Checkpoint whose file modes are checked: it holds signed URLs, so only its owner may read it' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l text-model -d 'Text model folder: model.onnx and tokenizer.json, with tokenizer_config.json, special_tokens_map.json and config.json where present (as Qdrant/clip-ViT-B-32-text). `index` records it with the collection, so search finds it there' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l text-output -d 'Text model output holding the embedding [default: the one config.json\'s model_type names, pooler_output for SigLIP, else text_embeds]; it is L2-normalised' -r
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l store -d 'Embedded Qdrant Edge store folder' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l collection -d 'Collection name inside the store or on the server' -r
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l qdrant -d 'Write to (or search) a Qdrant server or cluster at this gRPC URL instead of the embedded store, such as http://localhost:6334 or https://host:6334' -r
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l vector-name -d 'Named vector to write and search, for collections that hold several vectors' -r
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l qdrant-api-key -d 'API key of the server, sent as the `api-key` header; also read from QDRANT_API_KEY. Never printed, never stored' -r
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l qdrant-connect-timeout -d 'Seconds to wait for a connection to the server [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l qdrant-timeout -d 'Seconds to wait for each request\'s answer [default: 60]' -r
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l qdrant-max-attempts -d 'Tries of one request, the first included, when it fails for a reason that may pass (unavailable, time-out, overloaded, connection lost), with exponential backoff and jitter [default: 6]' -r
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l max-retries -d 'Retries after the first try: the old spelling of --qdrant-max-attempts, which counts one more and wins when both are given' -r
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l ort-lib -d 'ONNX Runtime shared library (libonnxruntime.so) to load' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -l no-normalize -d 'Store vectors as the model gives them, without L2 normalisation'
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -s q -l quiet -d 'Print only errors and the final result'
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -s v -l verbose -d 'Log more detail (-v info, -vv debug); RUST_LOG overrides'
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imbed -n "__fish_imbed_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c imbed -n "__fish_imbed_using_subcommand push" -l store -d 'Embedded store folder to read' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand push" -l collection -d 'Collection to copy, in the store and (unless --to-collection) on the server' -r
complete -c imbed -n "__fish_imbed_using_subcommand push" -l qdrant -d 'Qdrant server gRPC URL to copy to' -r
complete -c imbed -n "__fish_imbed_using_subcommand push" -l to-collection -d 'Name of the collection on the server [default: the same as --collection]' -r
complete -c imbed -n "__fish_imbed_using_subcommand push" -l vector-name -d 'Named vector to write on the server' -r
complete -c imbed -n "__fish_imbed_using_subcommand push" -l checkpoint -d 'Records how far the copy got, so an interrupted push resumes where it stopped' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand push" -l qdrant-api-key -d 'API key of the server, sent as the `api-key` header; also read from QDRANT_API_KEY. Never printed, never stored' -r
complete -c imbed -n "__fish_imbed_using_subcommand push" -l qdrant-connect-timeout -d 'Seconds to wait for a connection to the server [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand push" -l qdrant-timeout -d 'Seconds to wait for each request\'s answer [default: 60]' -r
complete -c imbed -n "__fish_imbed_using_subcommand push" -l qdrant-max-attempts -d 'Tries of one request, the first included, when it fails for a reason that may pass (unavailable, time-out, overloaded, connection lost), with exponential backoff and jitter [default: 6]' -r
complete -c imbed -n "__fish_imbed_using_subcommand push" -l max-retries -d 'Retries after the first try: the old spelling of --qdrant-max-attempts, which counts one more and wins when both are given' -r
complete -c imbed -n "__fish_imbed_using_subcommand push" -l upsert-batch -d 'Points per upsert request (requests are also kept under the server\'s 32 MB limit) [default: 128]' -r
complete -c imbed -n "__fish_imbed_using_subcommand push" -l upsert-parallel -d 'Upsert requests in flight at once [default: 4]' -r
complete -c imbed -n "__fish_imbed_using_subcommand push" -l collection-shards -d 'Shards of a collection imbed creates (Qdrant\'s shards; --shard I/N splits the corpus)' -r
complete -c imbed -n "__fish_imbed_using_subcommand push" -l collection-replicas -d 'Replication factor of a collection imbed creates' -r
complete -c imbed -n "__fish_imbed_using_subcommand push" -l ort-lib -d 'ONNX Runtime shared library (libonnxruntime.so) to load' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand push" -l json -d 'Print the summary as one JSON object on stdout'
complete -c imbed -n "__fish_imbed_using_subcommand push" -l no-repair -d 'Refuse (exit 2) to go on with a push whose server collection is not the one it wrote to (dropped or replaced), instead of starting the copy over'
complete -c imbed -n "__fish_imbed_using_subcommand push" -l collection-on-disk -d 'Keep vectors and payloads on disk in a collection imbed creates'
complete -c imbed -n "__fish_imbed_using_subcommand push" -l bulk -d 'Bulk load: build the HNSW index only at the end. imbed sets m=0 on a collection it created, and restores m=16 when the run (or its resume) finishes'
complete -c imbed -n "__fish_imbed_using_subcommand push" -s q -l quiet -d 'Print only errors and the final result'
complete -c imbed -n "__fish_imbed_using_subcommand push" -s v -l verbose -d 'Log more detail (-v info, -vv debug); RUST_LOG overrides'
complete -c imbed -n "__fish_imbed_using_subcommand push" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imbed -n "__fish_imbed_using_subcommand push" -s V -l version -d 'Print version'
complete -c imbed -n "__fish_imbed_using_subcommand verify" -l checkpoint -d 'Checkpoint file [default: imbed.checkpoint]' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand verify" -l qdrant-api-key -d 'API key of the server, sent as the `api-key` header; also read from QDRANT_API_KEY. Never printed, never stored' -r
complete -c imbed -n "__fish_imbed_using_subcommand verify" -l qdrant-connect-timeout -d 'Seconds to wait for a connection to the server [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand verify" -l qdrant-timeout -d 'Seconds to wait for each request\'s answer [default: 60]' -r
complete -c imbed -n "__fish_imbed_using_subcommand verify" -l qdrant-max-attempts -d 'Tries of one request, the first included, when it fails for a reason that may pass (unavailable, time-out, overloaded, connection lost), with exponential backoff and jitter [default: 6]' -r
complete -c imbed -n "__fish_imbed_using_subcommand verify" -l max-retries -d 'Retries after the first try: the old spelling of --qdrant-max-attempts, which counts one more and wins when both are given' -r
complete -c imbed -n "__fish_imbed_using_subcommand verify" -l ort-lib -d 'ONNX Runtime shared library (libonnxruntime.so) to load' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand verify" -l repair -d 'Mark the done items whose points are missing (or hold another key) pending again; `imbed resume` then sends them'
complete -c imbed -n "__fish_imbed_using_subcommand verify" -l delete-unknown -d 'Delete the points that no checkpoint knows (written by another run), after listing them'
complete -c imbed -n "__fish_imbed_using_subcommand verify" -l json -d 'Print one JSON object on stdout'
complete -c imbed -n "__fish_imbed_using_subcommand verify" -s q -l quiet -d 'Print only errors and the final result'
complete -c imbed -n "__fish_imbed_using_subcommand verify" -s v -l verbose -d 'Log more detail (-v info, -vv debug); RUST_LOG overrides'
complete -c imbed -n "__fish_imbed_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imbed -n "__fish_imbed_using_subcommand verify" -s V -l version -d 'Print version'
complete -c imbed -n "__fish_imbed_using_subcommand export" -s o -l output -d 'Folder to write the files into (created if missing)' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand export" -l format -d 'File layout' -r -f -a "jsonl\t'`points_N.jsonl`: one `{"id", "vector", "payload"}` object a line'
parquet\t'`points_N.parquet`: `id`, `vector` (fixed-size list of float32) and one typed column per payload field'
clip-retrieval\t'`img_emb/img_emb_N.npy` and `metadata/metadata_N.parquet`, row for row, as clip-retrieval\'s inference writes them (autofaiss and `clip back` read them)'"
complete -c imbed -n "__fish_imbed_using_subcommand export" -l rows-per-file -d 'Rows per file; each file is written under a temporary name, then renamed' -r
complete -c imbed -n "__fish_imbed_using_subcommand export" -l page -d 'Points per request to the store or server' -r
complete -c imbed -n "__fish_imbed_using_subcommand export" -l store -d 'Embedded Qdrant Edge store folder' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand export" -l collection -d 'Collection name inside the store or on the server' -r
complete -c imbed -n "__fish_imbed_using_subcommand export" -l qdrant -d 'Write to (or search) a Qdrant server or cluster at this gRPC URL instead of the embedded store, such as http://localhost:6334 or https://host:6334' -r
complete -c imbed -n "__fish_imbed_using_subcommand export" -l vector-name -d 'Named vector to write and search, for collections that hold several vectors' -r
complete -c imbed -n "__fish_imbed_using_subcommand export" -l qdrant-api-key -d 'API key of the server, sent as the `api-key` header; also read from QDRANT_API_KEY. Never printed, never stored' -r
complete -c imbed -n "__fish_imbed_using_subcommand export" -l qdrant-connect-timeout -d 'Seconds to wait for a connection to the server [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand export" -l qdrant-timeout -d 'Seconds to wait for each request\'s answer [default: 60]' -r
complete -c imbed -n "__fish_imbed_using_subcommand export" -l qdrant-max-attempts -d 'Tries of one request, the first included, when it fails for a reason that may pass (unavailable, time-out, overloaded, connection lost), with exponential backoff and jitter [default: 6]' -r
complete -c imbed -n "__fish_imbed_using_subcommand export" -l max-retries -d 'Retries after the first try: the old spelling of --qdrant-max-attempts, which counts one more and wins when both are given' -r
complete -c imbed -n "__fish_imbed_using_subcommand export" -l ort-lib -d 'ONNX Runtime shared library (libonnxruntime.so) to load' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand export" -l half -d 'Write clip-retrieval\'s embeddings as float16 instead of float32'
complete -c imbed -n "__fish_imbed_using_subcommand export" -l json -d 'Print the summary as one JSON object on stdout'
complete -c imbed -n "__fish_imbed_using_subcommand export" -s q -l quiet -d 'Print only errors and the final result'
complete -c imbed -n "__fish_imbed_using_subcommand export" -s v -l verbose -d 'Log more detail (-v info, -vv debug); RUST_LOG overrides'
complete -c imbed -n "__fish_imbed_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imbed -n "__fish_imbed_using_subcommand export" -s V -l version -d 'Print version'
complete -c imbed -n "__fish_imbed_using_subcommand import" -l format -d 'File layout, where the export\'s manifest or the file names do not tell it' -r -f -a "jsonl\t'`points_N.jsonl`: one `{"id", "vector", "payload"}` object a line'
parquet\t'`points_N.parquet`: `id`, `vector` (fixed-size list of float32) and one typed column per payload field'
clip-retrieval\t'`img_emb/img_emb_N.npy` and `metadata/metadata_N.parquet`, row for row, as clip-retrieval\'s inference writes them (autofaiss and `clip back` read them)'"
complete -c imbed -n "__fish_imbed_using_subcommand import" -l page -d 'Points per write' -r
complete -c imbed -n "__fish_imbed_using_subcommand import" -l store -d 'Embedded Qdrant Edge store folder' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand import" -l collection -d 'Collection name inside the store or on the server' -r
complete -c imbed -n "__fish_imbed_using_subcommand import" -l qdrant -d 'Write to (or search) a Qdrant server or cluster at this gRPC URL instead of the embedded store, such as http://localhost:6334 or https://host:6334' -r
complete -c imbed -n "__fish_imbed_using_subcommand import" -l vector-name -d 'Named vector to write and search, for collections that hold several vectors' -r
complete -c imbed -n "__fish_imbed_using_subcommand import" -l qdrant-api-key -d 'API key of the server, sent as the `api-key` header; also read from QDRANT_API_KEY. Never printed, never stored' -r
complete -c imbed -n "__fish_imbed_using_subcommand import" -l qdrant-connect-timeout -d 'Seconds to wait for a connection to the server [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand import" -l qdrant-timeout -d 'Seconds to wait for each request\'s answer [default: 60]' -r
complete -c imbed -n "__fish_imbed_using_subcommand import" -l qdrant-max-attempts -d 'Tries of one request, the first included, when it fails for a reason that may pass (unavailable, time-out, overloaded, connection lost), with exponential backoff and jitter [default: 6]' -r
complete -c imbed -n "__fish_imbed_using_subcommand import" -l max-retries -d 'Retries after the first try: the old spelling of --qdrant-max-attempts, which counts one more and wins when both are given' -r
complete -c imbed -n "__fish_imbed_using_subcommand import" -l upsert-batch -d 'Points per upsert request (requests are also kept under the server\'s 32 MB limit) [default: 128]' -r
complete -c imbed -n "__fish_imbed_using_subcommand import" -l upsert-parallel -d 'Upsert requests in flight at once [default: 4]' -r
complete -c imbed -n "__fish_imbed_using_subcommand import" -l ort-lib -d 'ONNX Runtime shared library (libonnxruntime.so) to load' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand import" -l json -d 'Print the summary as one JSON object on stdout'
complete -c imbed -n "__fish_imbed_using_subcommand import" -s q -l quiet -d 'Print only errors and the final result'
complete -c imbed -n "__fish_imbed_using_subcommand import" -s v -l verbose -d 'Log more detail (-v info, -vv debug); RUST_LOG overrides'
complete -c imbed -n "__fish_imbed_using_subcommand import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imbed -n "__fish_imbed_using_subcommand import" -s V -l version -d 'Print version'
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l method -d 'Methods to use: exact (same content_hash), near (phash within --max-distance), semantic (cosine at least --min-score)' -r -f -a "exact\t''
near\t''
semantic\t''"
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l max-distance -d 'Largest Hamming distance between the 64-bit perceptual hashes of near copies' -r
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l min-score -d 'Smallest cosine similarity of semantic near copies' -r
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l neighbours -d 'Neighbours asked of the store per point for semantic near copies' -r
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l keep -d 'Which member of each group to keep' -r -f -a "largest\t'Most pixels, then most bytes'
oldest\t'Earliest `mtime`'
first\t'First key in sort order'"
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l page -d 'Points per request to the store or server' -r
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l store -d 'Embedded Qdrant Edge store folder' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l collection -d 'Collection name inside the store or on the server' -r
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l qdrant -d 'Write to (or search) a Qdrant server or cluster at this gRPC URL instead of the embedded store, such as http://localhost:6334 or https://host:6334' -r
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l vector-name -d 'Named vector to write and search, for collections that hold several vectors' -r
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l qdrant-api-key -d 'API key of the server, sent as the `api-key` header; also read from QDRANT_API_KEY. Never printed, never stored' -r
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l qdrant-connect-timeout -d 'Seconds to wait for a connection to the server [default: 10]' -r
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l qdrant-timeout -d 'Seconds to wait for each request\'s answer [default: 60]' -r
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l qdrant-max-attempts -d 'Tries of one request, the first included, when it fails for a reason that may pass (unavailable, time-out, overloaded, connection lost), with exponential backoff and jitter [default: 6]' -r
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l max-retries -d 'Retries after the first try: the old spelling of --qdrant-max-attempts, which counts one more and wins when both are given' -r
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l ort-lib -d 'ONNX Runtime shared library (libonnxruntime.so) to load' -r -F
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l csv -d 'Print CSV rows (group, id, key, role, reason, score) instead of JSON lines'
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -l mark -d 'Write `dup_of` (the kept point\'s ID) into each member\'s payload, so that `search --filter` can leave them out'
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -s q -l quiet -d 'Print only errors and the final result'
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -s v -l verbose -d 'Log more detail (-v info, -vv debug); RUST_LOG overrides'
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imbed -n "__fish_imbed_using_subcommand dupes" -s V -l version -d 'Print version'
complete -c imbed -n "__fish_imbed_using_subcommand help; and not __fish_seen_subcommand_from index resume retry-failed stats search embed doctor push verify export import dupes help" -f -a "index" -d 'Embed every image of folders and manifests into the store'
complete -c imbed -n "__fish_imbed_using_subcommand help; and not __fish_seen_subcommand_from index resume retry-failed stats search embed doctor push verify export import dupes help" -f -a "resume" -d 'Finish an interrupted run; everything else comes from the checkpoint'
complete -c imbed -n "__fish_imbed_using_subcommand help; and not __fish_seen_subcommand_from index resume retry-failed stats search embed doctor push verify export import dupes help" -f -a "retry-failed" -d 'Process failed items again (all, or those of some error classes)'
complete -c imbed -n "__fish_imbed_using_subcommand help; and not __fish_seen_subcommand_from index resume retry-failed stats search embed doctor push verify export import dupes help" -f -a "stats" -d 'Show a checkpoint\'s progress, errors, rate and ETA; safe beside a running index'
complete -c imbed -n "__fish_imbed_using_subcommand help; and not __fish_seen_subcommand_from index resume retry-failed stats search embed doctor push verify export import dupes help" -f -a "search" -d 'Embed query images and print the nearest points of the store'
complete -c imbed -n "__fish_imbed_using_subcommand help; and not __fish_seen_subcommand_from index resume retry-failed stats search embed doctor push verify export import dupes help" -f -a "embed" -d 'Embed images and print their vectors as JSON lines'
complete -c imbed -n "__fish_imbed_using_subcommand help; and not __fish_seen_subcommand_from index resume retry-failed stats search embed doctor push verify export import dupes help" -f -a "doctor" -d 'Check the ONNX Runtime library, the model and the store'
complete -c imbed -n "__fish_imbed_using_subcommand help; and not __fish_seen_subcommand_from index resume retry-failed stats search embed doctor push verify export import dupes help" -f -a "push" -d 'Copy a collection of the embedded store into a Qdrant server collection'
complete -c imbed -n "__fish_imbed_using_subcommand help; and not __fish_seen_subcommand_from index resume retry-failed stats search embed doctor push verify export import dupes help" -f -a "verify" -d 'Compare a checkpoint with its index item by item: missing points, points with another key, points no checkpoint knows; exit 1 when they differ'
complete -c imbed -n "__fish_imbed_using_subcommand help; and not __fish_seen_subcommand_from index resume retry-failed stats search embed doctor push verify export import dupes help" -f -a "export" -d 'Write a collection\'s points to files: JSON lines, one parquet table, or clip-retrieval\'s .npy embeddings and parquet metadata'
complete -c imbed -n "__fish_imbed_using_subcommand help; and not __fish_seen_subcommand_from index resume retry-failed stats search embed doctor push verify export import dupes help" -f -a "import" -d 'Read an export (or clip-retrieval\'s output) into a collection; point IDs are kept'
complete -c imbed -n "__fish_imbed_using_subcommand help; and not __fish_seen_subcommand_from index resume retry-failed stats search embed doctor push verify export import dupes help" -f -a "dupes" -d 'Find groups of exact, perceptual and semantic near copies in a collection'
complete -c imbed -n "__fish_imbed_using_subcommand help; and not __fish_seen_subcommand_from index resume retry-failed stats search embed doctor push verify export import dupes help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
