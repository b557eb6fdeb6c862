// vizpipe preview: a run's frames in the browser, read from scene.json (render/preview/writer.py).
//
// Coordinates: the scene is Z-up, as the manifest; each GLB (glTF is Y-up, baked by
// core/io/gltf.py as (x, y, z) -> (x, z, -y)) is rotated back by +90 degrees about X.
// Looks follow the renderer (render/scene/): a colour map over the asset's attribute, else
// its vertex colours, else its flat colour; opacity, opacity ramps and fading attributes;
// isosurfaces show their front faces only; points as spheres (atoms) or dots (particles);
// curves as tubes (bonds, cell) or lines (streamlines, trails, long coastlines); volumes as
// proxy slices (each grid axis's maximum, drawn through the grid's centre).
//
// window.vizpipePreview = {ready, frame, frames, objects, goto(i), errors, openMs} for tests.

import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { DRACOLoader } from 'three/addons/loaders/DRACOLoader.js';

const CACHE_FRAMES = 12;  // frames kept in memory (the static assets always are)
const $ = (id) => document.getElementById(id);

const state = {
  ready: false, frame: 0, frames: 0, objects: 0, errors: [], openMs: null,
  goto: (i) => goto(i),
  // the canvas alone (no page overlays), as a PNG data URL
  snapshot: () => { renderNow(); return renderer.domElement.toDataURL('image/png'); },
};
window.vizpipePreview = state;

function fail(msg) {
  const text = String(msg && msg.message ? msg.message : msg);
  state.errors.push(text);
  console.error('vizpipe preview:', text);
  const s = $('status');
  s.textContent = 'error: ' + text;
  s.className = 'error';
}
window.addEventListener('error', (e) => fail(e.message || e));
window.addEventListener('unhandledrejection', (e) => fail(e.reason));

// ------------------------------------------------------------------------- renderer, camera

const view = $('view');
const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
renderer.toneMapping = THREE.AgXToneMapping;
renderer.toneMappingExposure = 1.0;
view.appendChild(renderer.domElement);
const scene = new THREE.Scene();
const Y_UP_TO_Z_UP = new THREE.Matrix4().makeRotationX(Math.PI / 2);

let S = null;  // scene.json
let camera = null;
let controls = null;
const luts = new Map();  // colour map name -> Float32Array of linear RGB (LUT_SIZE x 3)
const groupOn = new Map();  // group id -> shown
let staticGroup = null;
const frameCache = new Map();  // frame position -> Promise<THREE.Group>
let shown = null;  // the frame group in the scene

let renderQueued = false;
function requestRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; renderer.render(scene, camera); });
}
function renderNow() { renderer.render(scene, camera); }

function srgb(rgb) { return new THREE.Color().setRGB(rgb[0], rgb[1], rgb[2], THREE.SRGBColorSpace); }

let followCamera = false;  // show each frame through the render's camera (an orbit moves it)

function setupCamera() {
  const c = S.camera;
  const diag = S.diagonal;
  if (c.ortho_scale) {
    camera = new THREE.OrthographicCamera(-1, 1, 1, -1, diag * 1e-3, diag * 100);
  } else {
    camera = new THREE.PerspectiveCamera(40, 1, diag * 1e-3, diag * 100);
  }
  controls = new OrbitControls(camera, renderer.domElement);
  controls.addEventListener('change', requestRender);
  controls.addEventListener('start', () => setFollow(false));  // the user takes the camera
  applyCamera(c);
  scene.add(camera);
  followCamera = S.frames.some((f) => f.camera);
}

function applyCamera(c) {
  camera.userData.lens = c.lens_mm || camera.userData.lens || 50;
  if (c.ortho_scale) camera.userData.orthoScale = c.ortho_scale;
  camera.up.set(...(c.up || [0, 0, 1]));
  camera.position.set(...c.location);
  controls.target.set(...c.look_at);
  camera.lookAt(controls.target);
  controls.update();
  if (view.clientWidth) resize();
}

function setFollow(on) {
  followCamera = on;
  const box = $('follow');
  if (box) box.checked = on;
  if (on) applyCamera(S.frames[state.frame].camera || S.camera);
}

function resize() {
  const w = view.clientWidth || window.innerWidth;
  const h = view.clientHeight || window.innerHeight;
  renderer.setSize(w, h, false);
  const aspect = w / Math.max(h, 1);
  // Blender's sensor fit AUTO: the 36 mm sensor spans the longer side
  const tanLong = 18 / camera.userData.lens;
  if (camera.isPerspectiveCamera) {
    const tanV = aspect >= 1 ? tanLong / aspect : tanLong;
    camera.fov = THREE.MathUtils.radToDeg(2 * Math.atan(tanV));
    camera.aspect = aspect;
  } else {
    const s = camera.userData.orthoScale / 2;
    const [hw, hh] = aspect >= 1 ? [s, s / aspect] : [s * aspect, s];
    Object.assign(camera, { left: -hw, right: hw, top: hh, bottom: -hh });
  }
  camera.updateProjectionMatrix();
  requestRender();
}

function setupLights() {
  scene.background = srgb(S.background);
  const light = S.light;
  if (light && light.kind === 'sun') {
    const sun = new THREE.DirectionalLight(srgb(light.color || [1, 0.97, 0.92]),
      1.2 * (light.strength || 2.4));
    sun.position.set(...light.direction).normalize().multiplyScalar(S.diagonal);
    scene.add(sun);
    const sky = srgb(light.sky || [0.55, 0.68, 0.9]);
    scene.add(new THREE.HemisphereLight(sky, 0x303030, 3.0 * (light.sky_strength ?? 0.35) + 0.4));
  } else {  // the renderer's key light follows the camera
    scene.add(new THREE.HemisphereLight(0xffffff, 0x404048, 1.9));
    const key = new THREE.DirectionalLight(0xfff4e6, 2.8);
    key.position.set(-0.6, 0.8, 1.0);
    camera.add(key);
    camera.add(key.target);
    key.target.position.set(0, 0, -1);
  }
}

// ------------------------------------------------------------------------- colour

function lut(name) {
  let t = luts.get(name);
  if (t) return t;
  const hex = S.colormaps[name];
  const n = hex.length / 6;
  t = new Float32Array(n * 3);
  const c = new THREE.Color();
  for (let i = 0; i < n; i++) {
    const v = (k) => parseInt(hex.substr(6 * i + 2 * k, 2), 16) / 255;
    c.setRGB(v(0), v(1), v(2), THREE.SRGBColorSpace);  // stored linear
    t[3 * i] = c.r; t[3 * i + 1] = c.g; t[3 * i + 2] = c.b;
  }
  luts.set(name, t);
  return t;
}

function scalar(attr, i) {
  if (attr.itemSize === 1) return attr.getX(i);
  let s = 0;
  for (let k = 0; k < attr.itemSize; k++) s += attr.getComponent(i, k) ** 2;
  return Math.sqrt(s);
}

function attribute(geometry, name) {
  if (!name) return null;
  return geometry.getAttribute('_' + name.toLowerCase()) || null;
}

function smoothstep(a, b, x) {
  const t = Math.min(Math.max((x - a) / Math.max(b - a, 1e-12), 0), 1);
  return t * t * (3 - 2 * t);
}

// Per-vertex linear RGBA for the asset, or null when a flat colour or the file's own colours do.
// Returns {colors: Float32Array(n*4), alpha: bool (varies), source}.
function vertexColors(spec, geometry) {
  const pos = geometry.getAttribute('position');
  const n = pos ? pos.count : 0;
  const cm = spec.colormap;
  const values = cm ? attribute(geometry, cm.attribute) : null;
  const ramp = spec.opacity_ramp && values ? spec.opacity_ramp : null;
  const fade = attribute(geometry, spec.opacity_attribute);
  const opacity = spec.opacity ?? 1;
  const own = geometry.getAttribute('color');
  if (!values && !fade && !(own && !spec.color)) return null;
  const out = new Float32Array(n * 4);
  const table = values ? lut(cm.name) : null;
  const m = table ? table.length / 3 : 0;
  let lo = cm ? cm.vmin : 0, hi = cm ? cm.vmax : 1;
  const log = cm && cm.log && lo > 0 && hi > 0;
  if (log) { lo = Math.log10(lo); hi = Math.log10(hi); }
  const span = hi - lo || 1;
  const flat = spec.color ? srgb(spec.color) : null;
  for (let i = 0; i < n; i++) {
    let r = 0.8, g = 0.8, b = 0.82;
    if (table) {
      let v = scalar(values, i);
      if (log) v = Math.log10(Math.max(v, 1e-300));
      let t = (v - lo) / span;
      t = Number.isFinite(t) ? Math.min(Math.max(t, 0), 1) : 0;
      const k = Math.round(t * (m - 1)) * 3;
      r = table[k]; g = table[k + 1]; b = table[k + 2];
    } else if (flat) {
      r = flat.r; g = flat.g; b = flat.b;
    } else if (own) {
      r = own.getX(i); g = own.getY(i); b = own.getZ(i);
    }
    let a = 1;  // a constant opacity is the material's
    if (ramp) a = opacity * smoothstep(ramp[0], ramp[1], scalar(values, i));
    else if (fade) a = opacity * Math.min(Math.max(fade.getX(i), 0), 1);
    out[4 * i] = r; out[4 * i + 1] = g; out[4 * i + 2] = b; out[4 * i + 3] = a;
  }
  return { colors: out, alpha: Boolean(ramp || fade) };
}

function colorAt(vc, i) { return new THREE.Color(vc[4 * i], vc[4 * i + 1], vc[4 * i + 2]); }

// ------------------------------------------------------------------------- building objects

const dracoLoader = new DRACOLoader();
dracoLoader.setDecoderPath({ js: 'lib/draco/draco_wasm_wrapper.js', wasm: 'lib/draco/draco_decoder.wasm' });
const gltfLoader = new GLTFLoader();
gltfLoader.setDRACOLoader(dracoLoader);
const textureLoader = new THREE.TextureLoader();

function findDrawable(root) {
  let found = null;
  root.traverse((o) => { if (!found && (o.isMesh || o.isPoints || o.isLine)) found = o; });
  return found;
}

function surfaceMaterial(spec, vc, extra = {}) {
  const opacity = spec.opacity ?? 1;
  const transparent = opacity < 1 || Boolean(vc && vc.alpha);
  const mat = new THREE.MeshStandardMaterial({
    color: 0xffffff, metalness: 0, roughness: spec.matte ? 1.0 : 0.45,
    side: spec.iso ? THREE.FrontSide : THREE.DoubleSide,
    transparent, opacity: vc && vc.alpha ? 1 : opacity, depthWrite: !transparent, ...extra,
  });
  if (spec.color && !vc) mat.color = srgb(spec.color);
  if (spec.emission && spec.color) mat.emissive = srgb(spec.color).multiplyScalar(spec.emission);
  if (spec.iso && opacity < 1) {
    // the renderer's isosurface look: `opacity` where the surface faces the camera, opaque
    // at the silhouette (Layer Weight "Facing" -> Map Range opacity..1)
    mat.onBeforeCompile = (shader) => {
      shader.fragmentShader = shader.fragmentShader.replace('#include <opaque_fragment>',
        'float vizFacing = abs(dot(normalize(normal), normalize(vViewPosition)));\n' +
        'diffuseColor.a = mix(1.0, diffuseColor.a, vizFacing);\n#include <opaque_fragment>');
    };
    mat.customProgramCacheKey = () => 'vizpipe-iso';
  }
  return mat;
}

async function buildMesh(spec, node) {
  const geometry = node.geometry;
  geometry.applyMatrix4(Y_UP_TO_Z_UP);
  if (!geometry.getAttribute('normal')) geometry.computeVertexNormals();
  const vc = vertexColors(spec, geometry);
  let map = node.material && node.material.map ? node.material.map : null;
  if (!map && spec.texture && geometry.getAttribute('uv')) {
    map = await textureLoader.loadAsync(spec.texture);
    map.flipY = false;  // glTF's texture coordinates (origin top left)
    map.colorSpace = THREE.SRGBColorSpace;
  }
  const useMap = map && !(spec.colormap && vc);
  if (vc) {
    geometry.setAttribute('color', new THREE.BufferAttribute(vc.colors, 4));
  } else if (useMap) {
    geometry.deleteAttribute('color');
  }
  const mat = surfaceMaterial(spec, vc, { vertexColors: Boolean(vc) });
  if (useMap) mat.map = map;
  if (!vc && !useMap && !spec.color && !geometry.getAttribute('color')) mat.color = srgb([0.8, 0.8, 0.82]);
  return new THREE.Mesh(geometry, mat);
}

function radiusOf(spec, geometry, i) {
  const r = attribute(geometry, spec.radius_attribute);
  if (r) return r.getX(i);
  return spec.radius ?? S.default_radius;
}

function buildPoints(spec, node) {
  const geometry = node.geometry;
  geometry.applyMatrix4(Y_UP_TO_Z_UP);
  const pos = geometry.getAttribute('position');
  const n = pos.count;
  const vc = vertexColors(spec, geometry);
  if (!spec.colormap && n <= S.spheres_max) {  // atoms: instanced spheres
    const sphere = new THREE.SphereGeometry(1, n > 2000 ? 10 : 24, n > 2000 ? 6 : 16);
    const mat = surfaceMaterial(spec, null);
    if (!spec.color) mat.color = new THREE.Color(1, 1, 1);
    const mesh = new THREE.InstancedMesh(sphere, mat, n);
    const m = new THREE.Matrix4();
    const p = new THREE.Vector3();
    const q = new THREE.Quaternion();
    const s = new THREE.Vector3();
    for (let i = 0; i < n; i++) {
      const r = radiusOf(spec, geometry, i);
      m.compose(p.fromBufferAttribute(pos, i), q, s.set(r, r, r));
      mesh.setMatrixAt(i, m);
      if (vc) mesh.setColorAt(i, colorAt(vc.colors, i));
      else if (!spec.color) mesh.setColorAt(i, new THREE.Color(0.8, 0.8, 0.82));
    }
    mesh.instanceMatrix.needsUpdate = true;
    if (mesh.instanceColor) mesh.instanceColor.needsUpdate = true;
    mesh.computeBoundingSphere();
    geometry.dispose();
    return mesh;
  }
  // particles: dots sized as the render's spheres (the median radius)
  const radii = [];
  for (let i = 0; i < n; i += Math.max(1, Math.floor(n / 512))) radii.push(radiusOf(spec, geometry, i));
  radii.sort((a, b) => a - b);
  const size = 2 * (radii.length ? radii[radii.length >> 1] : S.default_radius);
  if (vc) geometry.setAttribute('color', new THREE.BufferAttribute(vc.colors, 4));
  const opacity = spec.opacity ?? 1;
  const transparent = opacity < 1 || Boolean(vc && vc.alpha);
  const mat = new THREE.PointsMaterial({
    size, sizeAttenuation: true, vertexColors: Boolean(vc), transparent,
    opacity: vc && vc.alpha ? 1 : opacity, depthWrite: !transparent,
  });
  if (!vc) mat.color = srgb(spec.color || [0.8, 0.8, 0.82]);
  return new THREE.Points(geometry, mat);
}

function buildCurves(spec, node) {
  const geometry = node.geometry;
  geometry.applyMatrix4(Y_UP_TO_Z_UP);
  const pos = geometry.getAttribute('position');
  const index = geometry.getIndex();
  const segments = index ? index.count / 2 : pos.count / 2;
  const vc = vertexColors(spec, geometry);
  const seg = (k) => (index ? [index.getX(2 * k), index.getX(2 * k + 1)] : [2 * k, 2 * k + 1]);
  if (!spec.colormap && segments <= S.tubes_max) {  // bonds, cell edges: tubes
    const radius = spec.radius ?? (node.userData.radius || S.default_radius);
    const cyl = new THREE.CylinderGeometry(1, 1, 1, 12, 1, false);
    const mat = surfaceMaterial(spec, null);
    if (!spec.color) mat.color = new THREE.Color(1, 1, 1);
    const mesh = new THREE.InstancedMesh(cyl, mat, Math.max(segments, 1));
    mesh.count = segments;
    const a = new THREE.Vector3(), b = new THREE.Vector3(), d = new THREE.Vector3();
    const q = new THREE.Quaternion(), s = new THREE.Vector3(), m = new THREE.Matrix4();
    const yAxis = new THREE.Vector3(0, 1, 0);
    for (let k = 0; k < segments; k++) {
      const [i, j] = seg(k);
      a.fromBufferAttribute(pos, i);
      b.fromBufferAttribute(pos, j);
      d.subVectors(b, a);
      const len = d.length();
      q.setFromUnitVectors(yAxis, len > 0 ? d.divideScalar(len) : yAxis);
      m.compose(a.clone().add(b).multiplyScalar(0.5), q, s.set(radius, len, radius));
      mesh.setMatrixAt(k, m);
      if (vc) mesh.setColorAt(k, colorAt(vc.colors, i));
      else if (!spec.color) mesh.setColorAt(k, new THREE.Color(0.8, 0.8, 0.82));
    }
    mesh.instanceMatrix.needsUpdate = true;
    if (mesh.instanceColor) mesh.instanceColor.needsUpdate = true;
    mesh.computeBoundingSphere();
    geometry.dispose();
    return mesh;
  }
  if (vc) geometry.setAttribute('color', new THREE.BufferAttribute(vc.colors, 4));
  const opacity = spec.opacity ?? 1;
  const transparent = opacity < 1 || Boolean(vc && vc.alpha);
  const mat = new THREE.LineBasicMaterial({
    vertexColors: Boolean(vc), transparent, opacity: vc && vc.alpha ? 1 : opacity,
    depthWrite: !transparent,
  });
  if (!vc) mat.color = srgb(spec.color || [0.8, 0.8, 0.82]);
  return new THREE.LineSegments(geometry, mat);
}

async function buildVolume(spec, frames) {
  const group = new THREE.Group();
  let slices = spec.slices || [];
  if (spec.proxy_frame !== undefined) {
    const src = frames[spec.proxy_frame].assets.find((a) => a.name === spec.name);
    slices = (src && src.slices) || [];
  }
  for (const sl of slices) {
    const tex = await textureLoader.loadAsync(sl.image);
    tex.colorSpace = THREE.SRGBColorSpace;
    const g = new THREE.BufferGeometry();
    g.setAttribute('position', new THREE.Float32BufferAttribute(sl.corners.flat(), 3));
    g.setAttribute('uv', new THREE.Float32BufferAttribute([0, 0, 1, 0, 0, 1, 1, 1], 2));
    g.setIndex([0, 1, 3, 0, 3, 2]);
    const mat = new THREE.MeshBasicMaterial({
      map: tex, transparent: true, side: THREE.DoubleSide, depthWrite: false, toneMapped: false,
    });
    group.add(new THREE.Mesh(g, mat));
  }
  return group;
}

async function buildAsset(spec) {
  let obj;
  if (spec.kind === 'volume') {
    obj = await buildVolume(spec, S.frames);
  } else if (!spec.url) {
    obj = new THREE.Group();  // no GLB for it (scene.json says why in spec.note)
  } else {
    const gltf = await gltfLoader.loadAsync(spec.url);
    const node = findDrawable(gltf.scene);
    const extras = (gltf.asset && gltf.asset.extras && gltf.asset.extras.vizpipe) || {};
    if (!node) obj = new THREE.Group();  // an empty geometry (no triangles this frame)
    else {
      node.userData.radius = extras.radius;
      if (spec.kind === 'mesh') obj = await buildMesh(spec, node);
      else if (spec.kind === 'points') obj = buildPoints(spec, node);
      else obj = buildCurves(spec, node);
    }
  }
  if (spec.transform) {
    const m = new THREE.Matrix4();
    m.set(...spec.transform.flat());  // row-major, as the manifest
    obj.applyMatrix4(m);
  }
  obj.name = spec.name;
  obj.userData.group = spec.group;
  obj.visible = groupOn.get(spec.group) !== false;
  if (obj.material && obj.material.transparent) obj.renderOrder = 1;
  return obj;
}

async function buildGroup(specs, name) {
  const group = new THREE.Group();
  group.name = name;
  const objs = await Promise.all(specs.map((s) => buildAsset(s).catch((e) => {
    throw new Error(`${s.url || s.name}: ${e.message || e}`);
  })));
  objs.forEach((o) => group.add(o));
  return group;
}

function disposeGroup(group) {
  group.traverse((o) => {
    if (o.geometry) o.geometry.dispose();
    if (o.material) {
      for (const m of [].concat(o.material)) {
        if (m.map) m.map.dispose();
        m.dispose();
      }
    }
  });
}

function loadFrame(pos) {
  if (!frameCache.has(pos)) {
    frameCache.set(pos, buildGroup(S.frames[pos].assets, `frame ${S.frames[pos].index}`));
    if (frameCache.size > CACHE_FRAMES) {  // drop the oldest cached frame that is not shown
      for (const [k, p] of frameCache) {
        if (k === pos) continue;
        frameCache.delete(k);
        p.then((g) => { if (g !== shown) disposeGroup(g); }).catch(() => {});
        break;
      }
    }
  }
  return frameCache.get(pos);
}

// ------------------------------------------------------------------------- frames and UI

let gotoSeq = 0;
async function goto(i) {
  const n = S.frames.length;
  const pos = Math.min(Math.max(Math.round(Number(i)) || 0, 0), n - 1);
  const seq = ++gotoSeq;
  const group = await loadFrame(pos);
  if (seq !== gotoSeq) return state.frame;  // a later goto won
  if (shown && shown !== group) scene.remove(shown);
  scene.add(group);
  shown = group;
  applyToggles();
  state.frame = pos;
  state.objects = staticGroup.children.length + group.children.length;
  $('slider').value = String(pos);
  $('frame-no').textContent = `${pos + 1} / ${n}`;
  $('time').textContent = S.frames[pos].label || (S.frames[pos].time ?? '');
  if (followCamera && S.frames[pos].camera) applyCamera(S.frames[pos].camera);
  renderNow();
  return pos;
}

function applyToggles() {
  for (const g of [staticGroup, shown]) {
    if (!g) continue;
    for (const o of g.children) o.visible = groupOn.get(o.userData.group) !== false;
  }
  requestRender();
}

function swatchOf(group, specs) {
  const spec = specs.find((s) => s.group === group.id) || {};
  if (spec.color) return `rgb(${spec.color.map((c) => Math.round(255 * c)).join(',')})`;
  if (spec.colormap) {
    const hex = S.colormaps[spec.colormap.name];
    const at = (f) => '#' + hex.substr(6 * Math.round(f * (hex.length / 6 - 1)), 6);
    return `linear-gradient(90deg, ${at(0)}, ${at(0.5)}, ${at(1)})`;
  }
  return '#ccc';
}

function buildPanel() {
  const ul = $('groups');
  const specs = [...S.static, ...S.frames.flatMap((f) => f.assets)];
  for (const g of S.groups) {
    groupOn.set(g.id, !g.hidden);
    const li = document.createElement('li');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = !g.hidden;
    box.id = 'g-' + g.id;
    box.addEventListener('change', () => { groupOn.set(g.id, box.checked); applyToggles(); });
    const label = document.createElement('label');
    label.htmlFor = box.id;
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = swatchOf(g, specs);
    label.append(sw, g.label + (g.kind === 'volume' ? ' (proxy)' : ''));
    li.append(box, label);
    const mine = specs.filter((s) => s.group === g.id);
    if (mine.length && mine.every((s) => s.note)) {  // a note that holds for every frame
      const n = document.createElement('div');
      n.className = 'note';
      n.textContent = mine[0].note;
      li.append(n);
    }
    ul.append(li);
  }
  if (S.frames.some((f) => f.camera)) {  // an orbit or fly-over: follow it, or look around
    const li = document.createElement('li');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.id = 'follow';
    box.checked = followCamera;
    box.addEventListener('change', () => { setFollow(box.checked); requestRender(); });
    const label = document.createElement('label');
    label.htmlFor = box.id;
    label.textContent = "the render's camera";
    li.append(box, label);
    ul.append(li);
  }
  const items = $('items');
  const shown = new Set(S.groups.map((g) => g.label));
  for (const it of (S.legend_items || []).filter((i) => !shown.has(i.label))) {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    if (it.color) sw.style.background = `rgb(${it.color.map((c) => Math.round(255 * c)).join(',')})`;
    li.append(sw, it.label);
    items.append(li);
  }
}

function fmt(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return Number(v.toPrecision(3)).toString();
}

// Round ticks (the 1-2-5 series, about six of them) inside [lo, hi]; decades on a log scale.
function niceTicks(lo, hi, log) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / 6;
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) || 10 * mag;
  if (log) step = Math.max(1, Math.round(step));
  const out = [];
  for (let x = Math.ceil(lo / step - 1e-9) * step; x <= hi + 1e-9 * step; x += step) {
    out.push(Math.abs(x) < 1e-12 * step ? 0 : x);
  }
  return out;
}

function buildColorbar() {
  const cb = S.colorbar;
  if (!cb) return;
  const hex = S.colormaps[cb.name];
  const n = hex.length / 6;
  const stops = [];
  for (let k = 0; k <= 16; k++) {
    const i = Math.round((k / 16) * (n - 1));
    stops.push(`#${hex.substr(6 * i, 6)} ${(100 * k) / 16}%`);
  }
  $('cb-ramp').style.background = `linear-gradient(to top, ${stops.join(', ')})`;
  $('cb-label').textContent = cb.label + (cb.units ? ` [${cb.units}]` : '');
  const ticks = $('cb-ticks');
  const lo = cb.log ? Math.log10(cb.vmin) : cb.vmin;
  const hi = cb.log ? Math.log10(cb.vmax) : cb.vmax;
  const span = hi - lo || 1;
  for (const x of niceTicks(lo, hi, cb.log)) {
    const el = document.createElement('span');
    el.style.top = `${100 - (100 * (x - lo)) / span}%`;
    el.textContent = fmt(cb.log ? 10 ** x : x);
    ticks.append(el);
  }
  $('colorbar').hidden = false;
}

let playing = false;
let playTimer = null;
function setPlaying(on) {
  playing = on;
  $('play').innerHTML = on ? '&#10074;&#10074;' : '&#9654;';
  clearTimeout(playTimer);
  if (on) tick();
}
async function tick() {
  if (!playing) return;
  const started = performance.now();
  const n = S.frames.length;
  const next = (state.frame + 1) % n;
  await goto(next);
  loadFrame((next + 1) % n);  // fetch ahead
  const wait = Math.max(0, 1000 / S.fps - (performance.now() - started));
  if (playing) playTimer = setTimeout(tick, wait);
}

async function main() {
  const res = await fetch('scene.json');
  if (!res.ok) throw new Error(`scene.json: HTTP ${res.status}`);
  S = await res.json();
  // each asset names its look in a shared table (render/preview/writer.py: compact)
  const full = (specs) => specs.map((a) => ({ ...S.looks[a.look], ...a }));
  S.static = full(S.static);
  for (const f of S.frames) f.assets = full(f.assets);
  state.frames = S.frames.length;
  $('subtitle').textContent = S.subtitle || '';
  setupCamera();
  setupLights();
  buildPanel();
  buildColorbar();
  $('slider').max = String(S.frames.length - 1);
  $('slider').addEventListener('input', (e) => { setPlaying(false); goto(e.target.value); });
  $('play').addEventListener('click', () => setPlaying(!playing));
  window.addEventListener('keydown', (e) => {
    if (e.code === 'Space') { e.preventDefault(); setPlaying(!playing); }
    if (e.code === 'ArrowRight') goto(state.frame + 1);
    if (e.code === 'ArrowLeft') goto(state.frame - 1);
  });
  window.addEventListener('resize', resize);
  resize();
  const [stat] = await Promise.all([buildGroup(S.static, 'static'), loadFrame(0)]);
  staticGroup = stat;
  scene.add(staticGroup);
  await goto(0);
  $('status').textContent = '';
  state.openMs = performance.now();
  state.ready = true;
  if (S.frames.length > 1) loadFrame(1);
}

main().catch(fail);
