// The node-mixin's alerts and recording rules, as published with node_exporter v1.5.0 (docs/node-mixin; the three
// .libsonnet files beside this one are copied from it unchanged, Apache License 2.0, Copyright The Prometheus
// Authors). The only configuration set is the job selector, so the rules find monitor-agent's targets.
// Rendered by alerts/node-mixin/render.sh into alerts/node.rules.yml.
local mixin = (import 'config.libsonnet') + (import 'alerts.libsonnet') + (import 'rules.libsonnet') + {
  _config+:: {
    nodeExporterSelector: 'job=~".*monitor-agent.*"',
  },
};

{ groups: mixin.prometheusAlerts.groups + mixin.prometheusRules.groups }
