import QKCore
