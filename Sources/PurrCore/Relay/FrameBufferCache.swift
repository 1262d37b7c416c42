import NIOCore
import NIOPosix

/// Two spare buffers per event loop thread for the frames the WebSocket bridge builds (a client's masked
/// frame, a server's unmasked piece). A new 1 MiB buffer per frame costs more than the masking: the
/// allocator hands the pages back when it is freed and the kernel faults and zeroes them again for the
/// next. A spare is taken again once the socket has written it (its storage is ours alone again); two,
/// because a read often ends one frame and starts the next before the first is written. At most two
/// buffers per thread are held, however many connections there are.
enum FrameBufferCache {
    /// Unchecked: each thread sees only its own (a thread-specific variable).
    private final class Spares: @unchecked Sendable {
        var buffers: [ByteBuffer] = []
    }

    private static let spares = ThreadSpecificVariable<Spares>()
    private static let count = 2

    /// Frames smaller than this are not worth keeping.
    static let keepFrom = 64 * 1024

    /// An empty buffer with room for `capacity` bytes: a spare that is free again, else a new one.
    static func take(capacity: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        guard capacity >= keepFrom, let holder = spares.currentValue else { return allocator.buffer(capacity: capacity) }
        for index in holder.buffers.indices where holder.buffers[index].capacity >= capacity {
            var candidate = holder.buffers.remove(at: index)
            let free: Bool? = candidate.modifyIfUniquelyOwned { buffer in
                buffer.clear()
                return true
            }
            if free != nil { return candidate }
            holder.buffers.insert(candidate, at: index)
        }
        return allocator.buffer(capacity: capacity)
    }

    /// Keeps `buffer` (about to be written) as a spare for a later frame on this thread.
    static func keep(_ buffer: ByteBuffer) {
        guard buffer.capacity >= keepFrom else { return }
        let holder: Spares
        if let existing = spares.currentValue {
            holder = existing
        } else {
            holder = Spares()
            spares.currentValue = holder
        }
        holder.buffers.append(buffer)
        // The oldest goes: it is the likeliest to be written and free, but also the one least recently kept.
        if holder.buffers.count > count { holder.buffers.removeFirst() }
    }
}
