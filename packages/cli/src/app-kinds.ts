// Our built-in apps live in packages of their own and register their kind when loaded (connectors' app-kind.ts):
// every command that runs or checks apps (up, run, validate, stack) imports this module first.
import '@openfactory/integrations'
import '@openfactory/alerts'
import '@openfactory/historian'
