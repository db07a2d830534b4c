package kafka

// Partition returns the partition the Kafka Java client's default partitioner picks for
// a record with this key among n partitions: toPositive(murmur2(key)) % n, the rule of
// BuiltInPartitioner.partitionForKey (and of the DefaultPartitioner before it). The
// streaming job's records are placed by that rule, so a backfilled record lands in the
// same partition as its streamed twin. It returns -1 when n is not positive.
func Partition(key []byte, n int32) int32 {
	if n <= 0 {
		return -1
	}
	return int32(murmur2(key)&0x7fffffff) % n
}

// murmur2 is Kafka's Utils.murmur2: MurmurHash2, 32-bit, seed 0x9747b28c, reading the
// input as little-endian 4-byte words.
func murmur2(data []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	h := uint32(seed) ^ uint32(len(data))
	for len(data) >= 4 {
		k := uint32(data[0]) | uint32(data[1])<<8 | uint32(data[2])<<16 | uint32(data[3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		data = data[4:]
	}
	switch len(data) {
	case 3:
		h ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
