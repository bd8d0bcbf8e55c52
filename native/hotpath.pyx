# placeholder, replaced by the real hot path
def crc32c(data, unsigned int value=0):
    return 0
