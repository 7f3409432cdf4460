"""backtrader integration: BracketStore (exchange, journal, polling), BracketBroker, live feed."""
