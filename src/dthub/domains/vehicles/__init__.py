"""Vehicle supervision (车辆动态监管): terminals on transport vehicles and their reports (JT/T 808)."""
