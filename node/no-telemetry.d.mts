// Types of no-telemetry.mjs: a side-effect module with no exports.
export {};
