"""Source adapters of the transit domain (公共交通数据接入)."""
