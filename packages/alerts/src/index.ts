// @openfactory/alerts — filled in by its work.
export {}
