// Validates rendered Kubernetes manifests offline (used by scripts/helm-test.sh for the chart and the
// kustomize overlays): each object against its API schema (kubernetes-models validators), then what the
// deployment guide promises of every hypha-accel container: its HYPHA_ACCEL_* variables load with the real
// config loader for its role, probes on the admin port, a locked-down securityContext, a preStop pause and
// a grace period longer than the drain, and a native sidecar edge that gates the app on a startup probe.
// The schema validators accept unknown fields, so each object is also type-checked as an object literal of
// its model's interface (tsc's excess-property check finds misspelled or misplaced fields).
// usage: node --import tsx test/deploy/validate-manifests.ts LABEL FILE.yaml...   (exit 1 on any problem)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { SETTINGS, type Role } from '../../src/config/settings.js';

type Obj = Record<string, any>; // rendered YAML: shapes checked below, field by field

const MODEL_PACKAGES: Record<string, string> = { 'monitoring.coreos.com': '@kubernetes-models/prometheus-operator' };

async function schemaValidate(doc: Obj): Promise<void> {
  const modulePath = modelModule(doc);
  const mod = (await import(modulePath)) as Record<string, new (data: Obj) => { validate(): void }>;
  const Model = mod[doc.kind as string];
  if (!Model) throw new Error(`no model ${modulePath}`);
  new Model(doc).validate();
}

function modelModule(doc: Obj): string {
  const [group, version] = String(doc.apiVersion).includes('/') ? String(doc.apiVersion).split('/') : ['', String(doc.apiVersion)];
  return `${MODEL_PACKAGES[group!] ?? 'kubernetes-models'}/${group ? `${group}/` : ''}${version}/${doc.kind}`;
}

/** Unknown fields: one line per object, `satisfies` its model's interface; returns tsc's complaints. */
function unknownFieldProblems(docs: Obj[]): string[] {
  const dir = new URL('../../node_modules/.cache/hypha-accel-manifests/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const imports = docs.map((d, i) => `import type { I${d.kind} as T${i} } from '${modelModule(d)}';`);
  const lines = docs.map((d, i) => `export const o${i} = ${JSON.stringify(d)} satisfies T${i};`);
  writeFileSync(new URL('check.ts', dir), [...imports, ...lines].join('\n') + '\n');
  writeFileSync(new URL('tsconfig.json', dir), JSON.stringify({
    compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
    files: ['check.ts'],
  }));
  try {
    execFileSync(process.execPath, [new URL('../../node_modules/typescript/bin/tsc', import.meta.url).pathname, '-p', new URL('tsconfig.json', dir).pathname], { stdio: 'pipe' });
    return [];
  } catch (error) {
    const out = String((error as { stdout?: Buffer }).stdout ?? error);
    return out.split('\n').filter((l) => l.includes('error TS')).map((l) => {
      const line = Number(/check\.ts\((\d+),/.exec(l)?.[1] ?? 0) - imports.length - 1;
      const d = docs[line];
      return `${d ? `${d.kind}/${d.metadata?.name}` : 'check.ts'}: ${l.replace(/^.*error TS\d+: /, '').slice(0, 300)}`;
    });
  }
}

function podSpecOf(doc: Obj): Obj | undefined {
  if (doc.kind === 'Pod') return doc.spec;
  if (['Deployment', 'DaemonSet', 'StatefulSet', 'Job', 'ReplicaSet'].includes(doc.kind)) return doc.spec?.template?.spec;
  if (doc.kind === 'CronJob') return doc.spec?.jobTemplate?.spec?.template?.spec;
  return undefined;
}

function checkAccelContainer(c: Obj, pod: Obj, where: string, problems: string[]): void {
  const role = c.args?.[0] as Role;
  if (role !== 'edge' && role !== 'gateway') {
    problems.push(`${where}: first argument must be the role (edge|gateway), got ${JSON.stringify(c.args)}`);
    return;
  }
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) if (typeof e.value === 'string') env[e.name] = e.value;
  for (const name of Object.keys(env).filter((n) => n.startsWith('HYPHA_ACCEL_'))) {
    const specs = SETTINGS.filter((s) => s.env === name);
    if (specs.length === 0) problems.push(`${where}: ${name} is not a hypha-accel setting`);
    else if (!specs.some((s) => s.roles.includes(role))) problems.push(`${where}: ${name} does not apply to the ${role}`);
  }
  let drainTimeoutMs = 10_000;
  try {
    const config = loadConfig(role, { flags: {}, env });
    drainTimeoutMs = config.drainTimeoutMs;
    const adminPort = Number(config.adminListen.split(':').pop());
    const declared = (c.ports ?? []).find((p: Obj) => p.name === 'admin');
    if (!declared || declared.containerPort !== adminPort) problems.push(`${where}: port "admin" must be the adminListen port ${adminPort}`);
    if (!config.adminListen.startsWith('0.0.0.0:')) problems.push(`${where}: adminListen must accept the kubelet's probes (0.0.0.0), got ${config.adminListen}`);
  } catch (error) {
    problems.push(`${where}: the ${role} refuses its settings: ${(error as Error).message}`);
  }
  for (const [probe, path] of [['readinessProbe', '/ready'], ['livenessProbe', '/live']] as const) {
    if (c[probe]?.httpGet?.path !== path || c[probe]?.httpGet?.port !== 'admin') problems.push(`${where}: ${probe} must GET ${path} on port admin`);
  }
  const sc = { ...pod.securityContext, ...c.securityContext };
  if (sc.runAsNonRoot !== true || !(Number(sc.runAsUser) > 0)) problems.push(`${where}: must run as a numeric non-root user`);
  if (c.securityContext?.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem must be true`);
  if (c.securityContext?.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation must be false`);
  if (!(c.securityContext?.capabilities?.drop ?? []).includes('ALL')) problems.push(`${where}: capabilities must drop ALL`);
  if (!c.resources?.requests || !c.resources?.limits?.memory) problems.push(`${where}: resources need requests and a memory limit`);
  const preStopSeconds = Number(c.lifecycle?.preStop?.sleep?.seconds ?? NaN);
  if (!(preStopSeconds >= 0)) problems.push(`${where}: needs a preStop sleep`);
  const graceSeconds = Number(pod.terminationGracePeriodSeconds ?? 30);
  if (!(graceSeconds > preStopSeconds + drainTimeoutMs / 1000)) {
    problems.push(`${where}: terminationGracePeriodSeconds ${graceSeconds} must exceed preStop ${preStopSeconds} s + drainTimeoutMs ${drainTimeoutMs}`);
  }
  if (!(c.volumeMounts ?? []).some((m: Obj) => env.HYPHA_ACCEL_SECRET_FILE?.startsWith(`${m.mountPath}/`))) {
    problems.push(`${where}: HYPHA_ACCEL_SECRET_FILE is not under a mounted volume`);
  }
}

function checkPod(doc: Obj, pod: Obj, problems: string[]): number {
  let accel = 0;
  const name = `${doc.kind}/${doc.metadata?.name}`;
  for (const [list, containers] of [['initContainers', pod.initContainers ?? []], ['containers', pod.containers ?? []]] as const) {
    for (const c of containers as Obj[]) {
      if (!String(c.image).includes('hypha-accel')) continue;
      accel++;
      const where = `${name} ${list}[${c.name}]`;
      checkAccelContainer(c, pod, where, problems);
      if (list === 'initContainers') {
        if (c.restartPolicy !== 'Always') problems.push(`${where}: an edge in initContainers must be a native sidecar (restartPolicy: Always)`);
        if (c.startupProbe?.httpGet?.path !== '/ready') problems.push(`${where}: a native sidecar needs a startupProbe on /ready so the app waits for a link`);
      }
    }
  }
  return accel;
}

async function main(): Promise<void> {
  const [label, ...files] = process.argv.slice(2);
  if (!label || files.length === 0) throw new Error('usage: validate-manifests.ts LABEL FILE.yaml...');
  const problems: string[] = [];
  const kinds: string[] = [];
  const docs: Obj[] = [];
  let accel = 0;
  for (const file of files) {
    for (const parsed of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (parsed.errors.length) { problems.push(`${file}: ${parsed.errors[0]!.message}`); continue; }
      const doc = parsed.toJS() as Obj | null;
      if (!doc) continue;
      kinds.push(doc.kind);
      docs.push(doc);
      try {
        await schemaValidate(doc);
      } catch (error) {
        problems.push(`${doc.kind}/${doc.metadata?.name}: ${(error as Error).message.slice(0, 600)}`);
      }
      const pod = podSpecOf(doc);
      if (pod) accel += checkPod(doc, pod, problems);
    }
  }
  if (kinds.length === 0) problems.push('nothing rendered');
  else problems.push(...unknownFieldProblems(docs));
  if (problems.length) {
    process.stderr.write(`validate ${label}: ${problems.length} problem(s)\n  ${problems.join('\n  ')}\n`);
    process.exit(1);
  }
  process.stderr.write(`validate ${label}: ${kinds.length} objects valid (${[...new Set(kinds)].sort().join(', ')}); ${accel} hypha-accel containers checked\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`validate: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
