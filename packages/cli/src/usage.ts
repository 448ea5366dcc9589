import { OpenFactoryError } from '@openfactory/model'

export function usageError(message: string): OpenFactoryError {
  return new OpenFactoryError('OFA_CLI_USAGE', message)
}

export const HELP = `ofa — OpenFactory command line

Usage:
  ofa up FACTORY-DIR [options]          run the whole factory in one process; Ctrl-C stops
      --port N            HTTP port (default 8080)
      --host H            listen address (default 127.0.0.1)
      --data DIR          embedded log's data directory (default factory.yaml's backbone.dataDir, else ./.ofa-data)
      --backbone B        embedded or kafka (default factory.yaml's backbone, else embedded)
      --bootstrap H:P,... Kafka bootstrap servers (implies --backbone kafka)
      --kafka-*           the Kafka connection's security (below)
      --uns FILE          UNS schema
      --tls-cert FILE     serve HTTPS with this certificate (PEM, chain after it), with --tls-key FILE (its PEM key)
      --tls self-signed   serve HTTPS with a certificate ofa makes once and keeps; its file and SHA-256 are printed
      --insecure          listen beyond loopback (--host 0.0.0.0...) without authentication: refused otherwise
  ofa run UUID FACTORY-DIR [options]    run one device's connector, a built-in app (historian, alerts, webhooks,
                                        mqtt_publish), or the serving app (image openfactory/serve), alone against
                                        Kafka; replicas of a device or built-in app take over from each other
      --backbone, --bootstrap, --kafka-*, --port, --host, --uns, --tls*, --insecure
                          as for ofa up (the backbone must be kafka)
  ofa run --workers FACTORY-DIR [options]
                                        run the factory's SQL files and TypeScript processors alone against Kafka;
                                        replicas share a lease: one runs them, another takes over when it stops or dies
      --backbone, --bootstrap, --kafka-*, --uns   as for ofa up (the backbone must be kafka)
  ofa validate [--uns FILE] PATH...     check factory files (files or folders); exit 0 valid, 1 problems, 2 usage;
                                        walks skip folders holding a .ofa-skip file (and say so); warnings are printed
  ofa plan FACTORY-DIR [--json]         what the files would change against the last deployment on the factory's log:
                                        topics, assets, connectors, SQL statements, processors, apps created, updated
                                        (each field) or deleted; --data, --backbone, --bootstrap, --kafka-*, --uns as
                                        for ofa up (ofa history too)
  ofa history FACTORY-DIR [--json]      the deployments recorded on the factory's log (ofa up records one when its
                                        files differ from the last): when, git commit and author, what changed
  ofa stack FACTORY-DIR --bootstrap H:P [--kafka-*] [--image IMAGE] [--factory-path PATH] [--tls] [--insecure]
                                        print the factory as a Docker Swarm stack file (docker stack deploy -c -):
                                        a service per device and app image, host network, rollback on a failed update;
                                        on a secured Kafka (and with --tls), names the Docker secrets to make
                                        (ofa-kafka-password..., ofa-serve-cert, ofa-serve-key)
  ofa apply FACTORY-DIR --swarm [swarm options]
                                        deploy the factory to a Docker Swarm (the stack of ofa stack), wait until every
                                        service is ready (rolled-back updates fail), record the deployment and its files
  ofa rollback FACTORY-DIR [--to SEQ|GIT-REF] [swarm options]
                                        deploy the files of an earlier deployment (default: the last applied one whose
                                        files differ from the last's) or of a git commit of the folder, as ofa apply
  ofa status FACTORY-DIR [--json] [swarm options]
                                        each service of the stack against the files (in sync, changed, not deployed,
                                        not declared) and the last deployment; exit 1 when anything differs
      --bootstrap H:P,... Kafka of the stack (default: factory.yaml's kafka backbone; the embedded log is refused);
                          --kafka-* its security (below), the same for the services (flags and Docker secrets)
      --own-kafka         the stack runs its own Kafka (a service of ofa image build --kafka's image, its data in
                          a volume) on 127.0.0.1:--kafka-port (default 9092); --kafka-image (openfactory/kafka:latest)
      --stack NAME        stack name (default: the factory's name)
      --image IMAGE       our image (default: openfactory/ofa:<version>, built by ofa image build)
      --state-dir DIR     the files the services run (default: $XDG_STATE_HOME/openfactory/swarm/<stack>)
      --docker-host H     the swarm manager's engine (default: DOCKER_HOST)
      --timeout S         seconds for every service to be ready (default 180)
      --tls-cert FILE     the serving app serves HTTPS with this certificate and --tls-key FILE (as Docker secrets)
      --insecure          the serving app listens beyond loopback without factory.yaml auth: (else on 127.0.0.1)
  ofa device up|down PATH, ofa apps up|down PATH [swarm options]
                                        the reference's commands: up deploys PATH's factory folder (ofa apply --swarm),
                                        down deploys it without PATH's files (a file or folder of it)
  ofa auth key create DIR --role viewer|operator|admin [--name N] [--scope PATTERN]... [--json]
                                        make an API key (printed once) on the factory's log; ls DIR lists them,
                                        revoke ID DIR revokes one; --data, --backbone, --bootstrap as for ofa up
  ofa audit DIR [--since ISO] [--limit N] [--json]
                                        the audit trail: commands, denied requests, key changes, deployments
  ofa nodes ls [--json]                 the swarm's nodes: role, availability, state, address, labels
  ofa nodes up|down INFRA-FILE          up: each declared node in the swarm gets its role and labels, active (a node
                                        not in the swarm: the join command to run on it, exit 1); down: drained and
                                        its labels removed (never the last active node); --docker-host H
  ofa version                           print the versions of ofa and Node.js
  ofa log topics [--data DIR | --bootstrap H:P [--kafka-*]]
                                        list the topics of an embedded log (or Kafka), with partitions and offsets
  ofa log tail TOPIC [options]          print records as JSON lines
      --data DIR          data directory (default ./.ofa-data)
      --bootstrap H:P,... read from Kafka instead (--kafka-*: its security, below)
      --partition N       only this partition (default all)
      --from WHERE        earliest (default), latest, or an offset
      --limit N           stop after N records
      --follow, -f        keep printing new records until Ctrl-C
  ofa log produce TOPIC [options] [VALUE...]
                                        append VALUEs (or stdin lines) durably; prints partition/offset of each
      --data DIR          data directory (default ./.ofa-data)
      --bootstrap H:P,... append to Kafka instead (--kafka-*: its security, below)
      --key KEY           record key (partition chosen by Kafka's murmur2)
      --partitions N      partitions when the topic is created (default 6)
  ofa export [ASSET...] [options]       the history of assets from the log as CSV, JSON lines or Parquet
      --uns PATTERN       also the assets (or items) a UNS pattern matches (repeatable; + one level, # the rest)
      --items A,B         only these items
      --from T, --to T    source-time range (ISO-8601 or epoch ms; default everything the log holds)
      --format F          csv, jsonl or parquet (default from --output's extension, else csv)
      --output, -o FILE   write to FILE (default stdout)
      --data DIR          data directory (default ./.ofa-data); --bootstrap H:P,... reads Kafka instead
  ofa log verify [--data DIR]           check every segment's checksums; exit 1 when damage is found
  ofa log repair [--data DIR]           cut torn tails and move damaged segments aside (the owner must be stopped)
  ofa opcua certs [list] [--pki DIR]    list the OPC UA server certificates trusted and rejected (the store:
                                        --pki, else OPENFACTORY_PKI_DIR, else ./.ofa-pki)
  ofa opcua certs trust THUMBPRINT|FILE [--pki DIR]
                                        trust a rejected server certificate (or a certificate file)
  ofa sql [--url URL] [--property NAME=VALUE]... [-f FILE]
                                        a SQL shell (ksqlDB dialect) on a running ofa's API (default $OFA_API_URL,
                                        else http://127.0.0.1:8080): statements end with ';', results as tables;
                                        -f runs a file's statements in order and stops at the first that fails
  ofa image build [options]             build the project's image (Node 24 and this repository's app) with no base
                                        image and no registry: docker import of a root filesystem made here; tagged
                                        openfactory/ofa:<version> and :latest; unchanged content is only re-tagged
      --kafka             build the Kafka broker image instead (a jlink'd Java runtime and Kafka's jars, for a
                          stack's own backbone): openfactory/kafka:<Kafka version> and :latest; needs a JDK 17+
      --tag NAME[:TAG]    name the image so instead (repeatable)
      --docker-host HOST  the Docker engine (default $DOCKER_HOST), e.g. unix:///var/run/docker.sock
  ofa help                              this text

The Kafka connection's security, for every command that takes --bootstrap (each flag, else its variable, else
factory.yaml's backbone.security; docs/reference/cli.md#kafka-security):
  --kafka-security-protocol P   OFA_KAFKA_SECURITY_PROTOCOL   PLAINTEXT (default), SSL, SASL_PLAINTEXT, SASL_SSL
  --kafka-sasl-mechanism M      OFA_KAFKA_SASL_MECHANISM      PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
  --kafka-username NAME         OFA_KAFKA_USERNAME
                                OFA_KAFKA_PASSWORD            the password: never a flag (ps shows flags)
  --kafka-password-file FILE    OFA_KAFKA_PASSWORD_FILE       or the file holding it (a Docker/Kubernetes secret)
  --kafka-ca FILE               OFA_KAFKA_CA                  PEM: the CA the brokers' certificates chain to
  --kafka-cert FILE             OFA_KAFKA_CERT                PEM: a client certificate (with --kafka-key)
  --kafka-key FILE              OFA_KAFKA_KEY                 PEM: its private key

The UNS schema for validate comes from --uns, else factory.yaml's uns, else OPENFACTORY_UNS_SCHEMA,
else uns_schema.yml / uns.yml in the factory folder. $VAR and \${VAR:-default} come from the environment,
then from a .ofaenv file in the working folder; $$ is a literal $.

The API of ofa up / ofa run answers only to IP addresses, localhost, this machine's name and --host; list
other host names clients use in OPENFACTORY_ALLOWED_HOSTS (comma-separated; .example.com for a domain), and
web origins whose pages may call methods, open live streams and read answers (CORS) in
OPENFACTORY_ALLOWED_ORIGINS. On 127.0.0.1 (the default) it runs without authentication; on any other address it
needs authentication in factory.yaml, or --insecure.
`
