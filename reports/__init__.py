"""Reports: Jinja2 templates, print CSS, WeasyPrint rendering and email composition."""
