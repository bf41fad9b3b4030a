import { type DeviceArray, type DType, isDeviceArray, type TypedArray } from "../kernels/index.js";

// A safety net for device tensors nobody reads or frees: when the garbage collector takes the
// Storage, its texture is released. It runs late and at no set time, so tidy() is the real tool.
const collected = new FinalizationRegistry<DeviceArray>((device) => device.release());

let storagesMade = 0;

/** How many storages have been made: a storage whose `serial` is at least this was made later. */
export function storageCount(): number {
  return storagesMade;
}

/**
 * Where a tensor's values live: a typed array on the host, or a device array (a gpu.js texture)
 * that stays on the device until a value is asked for. A reshape shares its input's Storage.
 */
export class Storage {
  readonly dtype: DType;
  readonly length: number;
  /** Order of making (see storageCount): backward() tells buffers it made from the caller's. */
  readonly serial = storagesMade++;
  private hostData: TypedArray | null;
  private deviceData: DeviceArray | null;
  /** Why the device memory was freed without a read, for the error a later use gets. */
  private freedBy: string | null = null;

  constructor(data: TypedArray | DeviceArray, dtype: DType) {
    this.dtype = dtype;
    this.length = data.length;
    if (isDeviceArray(data)) {
      this.hostData = null;
      this.deviceData = data;
      collected.register(this, data, this);
      trackDeviceStorage(this);
    } else {
      this.hostData = data;
      this.deviceData = null;
    }
  }

  get onDevice(): boolean {
    return this.deviceData !== null;
  }

  /**
   * The values on the host. A device array is read back once and then freed: the caller may write
   * to the host copy, so from here on the host copy is the truth.
   */
  get host(): TypedArray {
    if (this.hostData) return this.hostData;
    const device = this.liveDevice();
    const values = device.read();
    this.hostData = this.dtype === "float32" ? values : Float64Array.from(values);
    device.release();
    collected.unregister(this);
    this.deviceData = null;
    return this.hostData;
  }

  /**
   * The values on the host, on every device: a webgpu buffer can be read only this way. Like
   * `host`, the device copy is freed once read.
   */
  async read(): Promise<TypedArray> {
    if (this.hostData) return this.hostData;
    const values = await this.liveDevice().readAsync();
    if (this.hostData) return this.hostData; // another read finished first
    this.hostData = this.dtype === "float32" ? values : Float64Array.from(values);
    this.deviceData!.release();
    collected.unregister(this);
    this.deviceData = null;
    return this.hostData;
  }

  /** What a kernel takes: the device array while the values are there (no read back), else the host array. */
  get kernelInput(): TypedArray | DeviceArray {
    return this.hostData ?? this.liveDevice();
  }

  /**
   * Free device memory without reading it back: at the end of a tidy() scope, or when zeroGrad()
   * drops a gradient. `by` says which, in the error a later use gets.
   */
  free(by = "the tidy() scope that made it ended; return it from the scope, or keep() it, to use it afterwards"): void {
    if (!this.deviceData) return;
    this.deviceData.release();
    collected.unregister(this);
    this.deviceData = null;
    this.freedBy = by;
  }

  /**
   * Take new values (an optimizer step's), on the device or the host, freeing the old device ones.
   * Parameters outlive every tidy() scope, so this storage is left out of them.
   */
  assign(values: TypedArray | DeviceArray): void {
    if (values.length !== this.length)
      throw new Error(`Storage: ${values.length} new values for a storage of ${this.length}`);
    keepStorage(this);
    if (this.deviceData) {
      this.deviceData.release();
      collected.unregister(this);
    }
    this.freedBy = null;
    if (isDeviceArray(values)) {
      this.hostData = null;
      this.deviceData = values;
      collected.register(this, values, this);
    } else {
      this.hostData = this.dtype === "float32" || values instanceof Float64Array ? values : Float64Array.from(values);
      this.deviceData = null;
    }
  }

  private liveDevice(): DeviceArray {
    if (this.deviceData && !this.deviceData.released) return this.deviceData;
    if (this.freedBy) throw new Error(`Tensor: its device memory was freed when ${this.freedBy}`);
    throw new Error("Tensor: its device array was released by its backend (was the GPU backend disposed?)");
  }
}

// tidy() scopes: device storages made inside a scope are freed when it ends, except those the
// scope returns or keep() marks. Host storages need no tracking (the garbage collector frees them).
const scopes: Array<Set<Storage>> = [];

function trackDeviceStorage(s: Storage): void {
  scopes[scopes.length - 1]?.add(s);
}

/** Keep this storage when the enclosing tidy() scopes end. */
export function keepStorage(s: Storage): void {
  for (const scope of scopes) scope.delete(s);
}

/** Run fn; free the device memory of every tensor made inside it, except `kept` of its result. */
export function runScope<T>(fn: () => T, kept: (result: T) => Storage[]): T {
  const scope = new Set<Storage>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    scopes.pop();
    for (const s of scope) s.free();
    throw error;
  }
  scopes.pop();
  const keep = new Set(kept(result));
  const outer = scopes[scopes.length - 1];
  for (const s of scope) {
    if (!keep.has(s)) s.free();
    else outer?.add(s); // a nested scope's result belongs to the enclosing scope
  }
  return result;
}
