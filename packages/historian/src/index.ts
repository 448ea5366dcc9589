// @openfactory/historian — filled in by its work.
export {}
