// Files of a small factory for the integrations' tests: a UNS schema and a simulated machine placed in it.
export const UNS_YAML = `namespace_structure:
  - inc: Acme
  - site: ANY
  - area: ANY
  - line: ANY
  - asset: ANY
  - attribute: ANY
uns_template: inc/site/area/line/asset/attribute
`

export const DEVICES_YAML = `devices:
  press:
    uuid: PRESS-1
    uns: {site: Lyon, area: Stamping, line: L1, asset: press-1}
    connector:
      type: simulator
      interval_ms: 50
      items:
        force: {tag: Force, category: Samples, units: NEWTON, signal: sine, offset: 100, amplitude: 10, period_s: 5}
        mode: {tag: ControllerMode, category: Events, values: [AUTOMATIC, MANUAL], every_s: 0.2}
  other:
    uuid: OTHER-1
    uns: {site: Paris, area: Paint, line: L9, asset: other-1}
    connector:
      type: simulator
      interval_ms: 50
      items:
        temp: {tag: Temperature, category: Samples, signal: sine, offset: 20, amplitude: 1, period_s: 5}
`

/** The factory.yaml naming the UNS schema. */
export const FACTORY_YAML = 'name: integrations\nuns: uns.yml\nbackbone:\n  type: embedded\n'
