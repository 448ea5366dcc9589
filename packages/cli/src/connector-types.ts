// The connector types that live in packages of their own register themselves when loaded: every command that
// plans or checks devices (up, run, validate) imports this module first.
import '@openfactory/connector-modbus'
import '@openfactory/connector-mqtt'
import '@openfactory/connector-opcua'
