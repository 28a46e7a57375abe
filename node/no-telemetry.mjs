// Turns onnxruntime-node's telemetry off for this process, its worker threads and child processes; import before onnxruntime-node.
//
// onnxruntime-node 1.30 otherwise reads /etc/machine-id and /proc/self/cmdline (patient file names)
// when the first session is created, writes mat-debug-<pid>.log into the temp folder, looks up a
// telemetry host, and in a worker thread overflows the stack on a command line over ~14.5 KB
// (a recursive std::regex_search, one frame per character: SIGSEGV). Forced whatever the caller set.
// Set in the main thread, the variable reaches the real process environment (setenv), which the
// native library and every worker thread and child process read.
process.env.ORT_DISABLE_TELEMETRY = '1';
