// Checks a PGXN META.json against the PGXN Meta Spec v1.0.0 (required keys, their types and formats) and
// against the extension's control file (name, version, abstract). No validator of the spec is packaged for
// Debian or npm, so this is the spec's rules written down.
//   node meta_check.js META.json [x.control]   prints one line per problem; exits 1 when there is any.
'use strict';
const fs = require('fs');

// SemVer as the spec requires it: MAJOR.MINOR.PATCH, optionally followed by a prerelease part.
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;
// A version range: a version, or comparisons joined by commas (">= 1.2.0, < 2.0.0"); 0 means any.
const RANGE_PART = /^(?:(?:==|!=|>=|<=|>|<)\s*)?(0|[1-9]\d*\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)$/;
const LICENSES = new Set(['agpl_3', 'apache_1_1', 'apache_2_0', 'artistic_1', 'artistic_2', 'bsd', 'freebsd',
    'gfdl_1_2', 'gfdl_1_3', 'gpl_1', 'gpl_2', 'gpl_3', 'lgpl_2_1', 'lgpl_3_0', 'mit', 'mozilla_1_0', 'mozilla_1_1',
    'openssl', 'perl_5', 'postgresql', 'qpl_1_0', 'ssleay', 'sun', 'zlib', 'open_source', 'restricted',
    'unrestricted', 'unknown']);
const PHASES = new Set(['configure', 'build', 'test', 'runtime', 'develop']);
const RELATIONS = new Set(['requires', 'recommends', 'suggests', 'conflicts']);
const TOP_KEYS = new Set(['name', 'version', 'abstract', 'maintainer', 'license', 'provides', 'meta-spec',
    'description', 'generated_by', 'tags', 'no_index', 'prereqs', 'release_status', 'resources']);

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isString = (v) => typeof v === 'string' && v.length > 0;
const isCustom = (k) => /^[xX]_/.test(k);
const isUri = (v) => isString(v) && /^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]+$/.test(v);

function validate(meta) {
    const errors = [];
    const err = (path, msg) => errors.push(`${path}: ${msg}`);
    if (!isObject(meta)) return ['META.json: not a JSON object'];

    for (const k of ['name', 'version', 'abstract', 'maintainer', 'license', 'provides', 'meta-spec'])
        if (!(k in meta)) err(k, 'missing mandatory field');
    for (const k of Object.keys(meta))
        if (!TOP_KEYS.has(k) && !isCustom(k)) err(k, 'unknown field (custom fields start with x_)');

    if ('name' in meta && !(isString(meta.name) && meta.name.length >= 2 && !/[\s/\\]/.test(meta.name)))
        err('name', 'must be at least two characters without whitespace, / or \\');
    if ('version' in meta && !(typeof meta.version === 'string' && SEMVER.test(meta.version)))
        err('version', `must be a semantic version (x.y.z), got ${JSON.stringify(meta.version)}`);
    if ('abstract' in meta && !isString(meta.abstract)) err('abstract', 'must be a non-empty string');
    if ('description' in meta && !isString(meta.description)) err('description', 'must be a non-empty string');
    if ('generated_by' in meta && !isString(meta.generated_by)) err('generated_by', 'must be a non-empty string');

    if ('maintainer' in meta) {
        const m = meta.maintainer;
        if (!(isString(m) || (Array.isArray(m) && m.length > 0 && m.every(isString))))
            err('maintainer', 'must be a string or a non-empty list of strings');
    }
    if ('license' in meta) {
        const l = meta.license;
        if (typeof l === 'string') { if (!LICENSES.has(l)) err('license', `unknown license string "${l}"`); }
        else if (Array.isArray(l)) {
            if (l.length === 0 || !l.every((x) => LICENSES.has(x))) err('license', 'list of known license strings expected');
        } else if (isObject(l)) {
            if (Object.keys(l).length === 0 || !Object.values(l).every(isUri)) err('license', 'name -> URL map expected');
        } else err('license', 'must be a string, a list or an object');
    }
    if ('provides' in meta) {
        if (!isObject(meta.provides) || Object.keys(meta.provides).length === 0) err('provides', 'must be a non-empty object');
        else for (const [ext, p] of Object.entries(meta.provides)) {
            const path = `provides.${ext}`;
            if (!isObject(p)) { err(path, 'must be an object'); continue; }
            if (!isString(p.file)) err(`${path}.file`, 'missing mandatory field');
            if (!(typeof p.version === 'string' && SEMVER.test(p.version))) err(`${path}.version`, 'must be a semantic version');
            for (const k of ['abstract', 'docfile']) if (k in p && !isString(p[k])) err(`${path}.${k}`, 'must be a non-empty string');
            for (const k of Object.keys(p))
                if (!['file', 'version', 'abstract', 'docfile'].includes(k) && !isCustom(k)) err(`${path}.${k}`, 'unknown field');
        }
    }
    if ('meta-spec' in meta) {
        const s = meta['meta-spec'];
        if (!isObject(s)) err('meta-spec', 'must be an object');
        else {
            if (s.version !== '1.0.0') err('meta-spec.version', `must be "1.0.0", got ${JSON.stringify(s.version)}`);
            if ('url' in s && !isUri(s.url)) err('meta-spec.url', 'must be a URI');
        }
    }
    if ('tags' in meta) {
        if (!Array.isArray(meta.tags) || meta.tags.length === 0) err('tags', 'must be a non-empty list');
        else meta.tags.forEach((t, i) => { if (!isString(t) || t.length > 255) err(`tags[${i}]`, '1 to 255 characters'); });
    }
    if ('release_status' in meta && !['stable', 'testing', 'unstable'].includes(meta.release_status))
        err('release_status', 'must be stable, testing or unstable');
    if ('no_index' in meta) {
        if (!isObject(meta.no_index)) err('no_index', 'must be an object');
        else for (const [k, v] of Object.entries(meta.no_index)) {
            if (!['file', 'directory'].includes(k) && !isCustom(k)) err(`no_index.${k}`, 'unknown field');
            else if (!isCustom(k) && !(isString(v) || (Array.isArray(v) && v.every(isString)))) err(`no_index.${k}`, 'path or list of paths expected');
        }
    }
    if ('prereqs' in meta) {
        if (!isObject(meta.prereqs)) err('prereqs', 'must be an object');
        else for (const [phase, rels] of Object.entries(meta.prereqs)) {
            if (!PHASES.has(phase) && !isCustom(phase)) { err(`prereqs.${phase}`, 'unknown phase'); continue; }
            if (!isObject(rels)) { err(`prereqs.${phase}`, 'must be an object'); continue; }
            for (const [rel, deps] of Object.entries(rels)) {
                if (!RELATIONS.has(rel) && !isCustom(rel)) { err(`prereqs.${phase}.${rel}`, 'unknown relationship'); continue; }
                if (!isObject(deps)) { err(`prereqs.${phase}.${rel}`, 'must be an object'); continue; }
                for (const [name, range] of Object.entries(deps)) {
                    const ok = range === 0 || (typeof range === 'string' && range.split(',').every((r) => RANGE_PART.test(r.trim())));
                    if (!ok) err(`prereqs.${phase}.${rel}.${name}`, `bad version range ${JSON.stringify(range)}`);
                }
            }
        }
    }
    if ('resources' in meta) {
        const r = meta.resources;
        if (!isObject(r)) err('resources', 'must be an object');
        else for (const [k, v] of Object.entries(r)) {
            if (k === 'homepage') { if (!isUri(v)) err('resources.homepage', 'must be a URI'); }
            else if (k === 'bugtracker' || k === 'repository') {
                if (!isObject(v)) { err(`resources.${k}`, 'must be an object'); continue; }
                const allowed = k === 'bugtracker' ? ['web', 'mailto'] : ['url', 'web', 'type'];
                for (const [kk, vv] of Object.entries(v)) {
                    if (!allowed.includes(kk) && !isCustom(kk)) err(`resources.${k}.${kk}`, 'unknown field');
                    else if (kk === 'type' ? !isString(vv) : (!isCustom(kk) && !isUri(vv))) err(`resources.${k}.${kk}`, 'must be a URI');
                }
            } else if (!isCustom(k)) err(`resources.${k}`, 'unknown field');
        }
    }
    return errors;
}

// The control file's default_version and comment are the extension's version and abstract: META.json must say
// the same, for the distribution and for the extension it provides.
function matchControl(meta, controlText, name) {
    const errors = [];
    const field = (k) => (controlText.match(new RegExp(`^${k}\\s*=\\s*'((?:[^']|'')*)'`, 'm')) || [])[1];
    const version = field('default_version');
    const comment = field('comment')?.replace(/''/g, "'");
    const p = meta.provides?.[name];
    if (!p) return [`provides.${name}: missing (the control file's extension)`];
    if (meta.version !== version) errors.push(`version: ${meta.version}, the control file says ${version}`);
    if (p.version !== version) errors.push(`provides.${name}.version: ${p.version}, the control file says ${version}`);
    if (p.abstract !== comment) errors.push(`provides.${name}.abstract: "${p.abstract}", the control file's comment is "${comment}"`);
    return errors;
}

module.exports = { validate, matchControl };

if (require.main === module) {
    const [metaPath, controlPath] = process.argv.slice(2);
    let meta;
    try { meta = JSON.parse(fs.readFileSync(metaPath, 'utf8')); }
    catch (e) { console.log(`${metaPath}: ${e.message}`); process.exit(1); }
    const errors = validate(meta);
    if (controlPath) errors.push(...matchControl(meta, fs.readFileSync(controlPath, 'utf8'),
        require('path').basename(controlPath, '.control')));
    errors.forEach((e) => console.log(e));
    if (errors.length === 0) console.log(`${metaPath} is valid (PGXN meta spec 1.0.0)${controlPath ? ' and matches ' + controlPath : ''}`);
    process.exit(errors.length ? 1 : 0);
}
