// Static dictionary: strings of hypha's envelope that every link knows from the start (never evicted).
// Append only: changing the order changes the wire format (bump FORMAT_VERSION in tokens.ts).

export const STATIC_STRINGS: readonly string[] = [
  // main envelope
  'type', 'from', 'to', 'method', 'session', 'parent', 'ws', 'user', 'data', 'id', 'roles',
  'is_anonymous', 'scope', 'current_workspace', 'workspaces', 'client_id', 'extra_scopes', 'email',
  'expires_at', 'anonymous', 'admin', 'root', '*', 'a', 'rw', 'r',
  // extra
  'args', 'with_kwargs', 'promise', 't', 'heartbeat', 'resolve', 'reject', 'interval',
  '.resolve', '.reject', '.heartbeat', '_enc', 'pub', 'nonce',
  // encoded values
  '_rtype', '_rvalue', '_rshape', '_rdtype', '_rserver', '_rtarget', '_rmethod', '_rpromise', '_rname',
  '_rdoc', '_rschema', '_rasync', '_rtrace', '_rintf', '_renc_pub', 'ndarray', 'memoryview',
  'typedarray', 'error', 'generator', 'uint8', 'uint16', 'uint32', 'int32', 'float32', 'float64',
  // service descriptions and schemas
  'name', 'description', 'config', 'visibility', 'public', 'protected', 'require_context', 'workspace',
  'service_schema', 'function', 'parameters', 'properties', 'required', 'object', 'string', 'number',
  'integer', 'boolean', 'array', 'items', 'app_id', 'docs', 'api_version', 'server_id', 'hypha_version',
  'built-in', 'generic', 'message_cache', 'services.built-in.get_service',
  'services.built-in.message_cache.create', 'services.built-in.message_cache.append',
  'services.built-in.message_cache.set', 'services.built-in.message_cache.process',
  'services.built-in.message_cache.remove', 'services.built-in.ping', 'services.default.get_service',
  'services.default.register_service', 'services.default.unregister_service',
  'services.default.list_services', 'services.default.subscribe', 'client_disconnected',
];

if (STATIC_STRINGS.length > 256) throw new Error('static dictionary holds at most 256 strings');
