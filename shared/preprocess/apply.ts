// RGB(A) bytes + spec → model input (placeholder: implemented by the preprocessing work).
export {};
