// Validate custom resources strictly against the JSON schemas of the @kubernetes-models
// packages (generated from KEDA's, Traefik's, the Gateway API's and the Prometheus
// Operator's own API types). Reads a JSON array of resources on stdin; prints a JSON array
// of {kind, name, error} (error null when valid). Run from the folder holding node_modules.
//
// The packages ship their schemas compiled by ajv into functions, which accept unknown
// fields. Strictness is added the way `kubectl --validate=strict` means it: each object of
// the resource is handed to the compiled validator as a Proxy that records which fields the
// validator reads. A validator reads every field its schema declares (whether present or
// not), lists the keys of a map (additionalProperties, patternProperties) and reads nothing
// of an object that allows any field (no properties: labels' values, RawExtension, JSON). So
// a key of an object whose fields were read, whose keys were not listed, and which the
// validator did not read is not in the schema: an unknown field. `--audit` checks that
// premise: it prints every field a package's typings declare that its validator never reads.
import { readdirSync, readFileSync } from "node:fs";
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

const escape = (key) => key.replaceAll("~", "~0").replaceAll("/", "~1"); // JSON pointer

/** A copy of value whose objects record, in objects, what the validator reads of them. */
function tracked(value, pointer, objects) {
  if (Array.isArray(value)) return value.map((item, i) => tracked(item, `${pointer}/${i}`, objects));
  if (value === null || typeof value !== "object") return value;
  const seen = { pointer, keys: Object.keys(value), read: new Set(), listed: false };
  objects.push(seen);
  const copy = Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, tracked(item, `${pointer}/${escape(key)}`, objects)]),
  );
  const note = (key) => typeof key === "string" && seen.read.add(key);
  return new Proxy(copy, {
    get: (target, key, receiver) => (note(key), Reflect.get(target, key, receiver)),
    has: (target, key) => (note(key), Reflect.has(target, key)),
    getOwnPropertyDescriptor: (target, key) => (note(key), Reflect.getOwnPropertyDescriptor(target, key)),
    ownKeys: (target) => ((seen.listed = true), Reflect.ownKeys(target)),
  });
}

/** The schema's errors and the unknown fields of resource, or null. */
function check(Model, resource) {
  const objects = [];
  const errors = [];
  try {
    Model.prototype.validate.call(tracked(resource, "", objects));
  } catch (error) {
    errors.push(String(error.message ?? error));
  }
  for (const { pointer, keys, read, listed } of objects) {
    if (listed || read.size === 0) continue; // a map, or an object that allows any field
    for (const key of keys.filter((k) => !read.has(k))) {
      errors.push(`data${pointer}/${escape(key)} is an unknown field (not in the schema)`);
    }
  }
  return errors.length ? errors.join(", ") : null;
}

/** Every {type, missing} where a type's typings declare fields its validator never reads. */
async function audit() {
  const found = [];
  const root = new URL("node_modules/@kubernetes-models/", import.meta.url);
  for (const pkg of ["apimachinery", "gateway-api", "keda", "prometheus-operator", "traefik"]) {
    for (const file of readdirSync(new URL(pkg, root), { recursive: true })) {
      if (!file.endsWith(".d.ts") || file.startsWith("_schemas")) continue;
      const body = readFileSync(new URL(`${pkg}/${file}`, root), "utf8").match(/^export interface \w+ \{\n([\s\S]*?)^\}/m);
      const declared = [...(body?.[1] ?? "").matchAll(/^ {4}"([^"]+)"\??:/gm)].map((m) => m[1]);
      if (!declared.length) continue;
      const module = await import(new URL(`${pkg}/${file.replace(/\.d\.ts$/, ".js")}`, root));
      const Model = Object.values(module).find((value) => value?.prototype?.validate);
      if (!Model) continue;
      const objects = [];
      try {
        Model.prototype.validate.call(tracked({}, "", objects));
      } catch {}
      const missing = declared.filter((key) => !objects[0].read.has(key));
      if (missing.length) found.push({ type: `${pkg}/${file.replace(/\.d\.ts$/, "")}`, missing });
    }
  }
  return found;
}

if (process.argv.includes("--audit")) {
  process.stdout.write(JSON.stringify(await audit()));
} else {
  let input = "";
  for await (const chunk of process.stdin) input += chunk;
  const results = JSON.parse(input).map((resource) => {
    const key = `${resource.apiVersion}/${resource.kind}`;
    const name = resource.metadata?.name ?? null;
    const Model = models[key];
    if (!Model) return { kind: key, name, error: `no schema for ${key}` };
    return { kind: key, name, error: check(Model, resource) };
  });
  process.stdout.write(JSON.stringify(results));
}
