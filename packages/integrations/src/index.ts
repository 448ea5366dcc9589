// @openfactory/integrations — filled in by its work.
export {}
