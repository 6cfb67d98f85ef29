// Validate custom resources against the JSON schemas of the @kubernetes-models packages
// (generated from KEDA's, Traefik's, the Gateway API's and the Prometheus Operator's own
// API types and CRDs). Reads a JSON array of resources on stdin; prints a JSON array of
// {kind, name, error} (error null when valid). Run from the folder holding node_modules.
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { IngressRoute, Middleware, TraefikService } from "@kubernetes-models/traefik/traefik.io/v1alpha1";
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";
import { PrometheusRule, ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

const models = {
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "traefik.io/v1alpha1/IngressRoute": IngressRoute,
  "traefik.io/v1alpha1/Middleware": Middleware,
  "traefik.io/v1alpha1/TraefikService": TraefikService,
  "gateway.networking.k8s.io/v1/HTTPRoute": HTTPRoute,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map((resource) => {
  const key = `${resource.apiVersion}/${resource.kind}`;
  const name = resource.metadata?.name ?? null;
  const Model = models[key];
  if (!Model) return { kind: key, name, error: `no schema for ${key}` };
  try {
    new Model(resource).validate();
    return { kind: key, name, error: null };
  } catch (error) {
    return { kind: key, name, error: String(error.message ?? error) };
  }
});
process.stdout.write(JSON.stringify(results));
