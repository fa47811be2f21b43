def cidr_contains(network: str, address: str) -> bool:
    """Whether an IPv4 address lies in a CIDR block such as '10.0.0.0/8'; a block
    written without '/n' is the single address itself."""
    base, _, bits = network.partition("/")
    prefix = int(bits) if bits else 32
    mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    return ip_to_int(base) & mask == ip_to_int(address) & mask


def ip_to_int(address: str) -> int:
    """The 32-bit integer of a dotted IPv4 address."""
    value = 0
    for part in address.split("."):
        value = value * 256 + int(part)
    return value


def check(candidate):
    assert candidate("10.0.0.0/8", "10.255.1.2") is True
    assert candidate("192.168.1.0/24", "192.168.2.1") is False
    assert candidate("192.168.1.0/24", "192.168.1.255") is True
    assert candidate("0.0.0.0/0", "8.8.8.8") is True
    assert candidate("1.2.3.4", "1.2.3.4") is True
    assert candidate("1.2.3.4", "1.2.3.5") is False
    assert candidate("172.16.0.0/12", "172.31.255.255") is True
    assert candidate("172.16.0.0/12", "172.32.0.0") is False
    assert candidate("10.1.2.3/32", "10.1.2.3") is True


ENTRY_POINT = "cidr_contains"
